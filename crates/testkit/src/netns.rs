//! Two network sites for partition tests, made of Linux network namespaces.
//!
//! ```text
//!   site a (netns)            root namespace (the test)            site b (netns)
//!   10.X.1.2 ── veth ── 10.X.1.1  [forwarding between sites]  10.X.2.1 ── veth ── 10.X.2.2
//! ```
//!
//! Nodes of a site run inside its namespace and listen on all its addresses; the test reaches
//! every node directly over the veth links. Traffic between the sites is routed through the root
//! namespace, and [`TwoSites::cut`] stops that forwarding (per interface, nothing global
//! changes): the sites are partitioned while the test still sees both. [`TwoSites::heal`]
//! restores it. Needs root and `ip` (iproute2); [`TwoSites::create`] returns `None` otherwise.

use anyhow::{bail, Context};
use std::process::Command;

/// Where a node runs: a namespace and the address it is reached at.
#[derive(Clone, Debug)]
pub struct Placement {
    /// The network namespace.
    pub netns: String,
    /// The site's address.
    pub ip: String,
}

/// Two sites that can be cut apart.
pub struct TwoSites {
    /// Site a.
    pub a: Placement,
    /// Site b.
    pub b: Placement,
    root_links: [String; 2],
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("ip").args(args).status().with_context(|| format!("running ip {args:?}"))?;
    if !status.success() {
        bail!("ip {args:?} failed: {status}");
    }
    Ok(())
}

fn forwarding(link: &str, on: bool) -> anyhow::Result<()> {
    let path = format!("/proc/sys/net/ipv4/conf/{link}/forwarding");
    std::fs::write(&path, if on { "1" } else { "0" }).with_context(|| format!("writing {path}"))
}

impl TwoSites {
    /// Creates the sites, or returns `None` (with the reason) when this process cannot: it is
    /// not root or has no `ip` command.
    pub fn create() -> anyhow::Result<Result<Self, String>> {
        if !nix::unistd::geteuid().is_root() {
            return Ok(Err("not running as root".into()));
        }
        if Command::new("ip").arg("-V").output().is_err() {
            return Ok(Err("the ip command (iproute2) is missing".into()));
        }
        let id = std::process::id() % 100_000;
        let net = 100 + id % 150;
        let mut sites = Vec::new();
        let mut root_links = Vec::new();
        for (n, name) in [(1, "a"), (2, "b")] {
            let netns = format!("cloister-{id}-{name}");
            let root_link = format!("cl{id}r{name}");
            let site_link = format!("cl{id}s{name}");
            let _ = Command::new("ip").args(["netns", "del", &netns]).output();
            ip(&["netns", "add", &netns])?;
            ip(&["link", "add", &root_link, "type", "veth", "peer", "name", &site_link])?;
            ip(&["link", "set", &site_link, "netns", &netns])?;
            ip(&["addr", "add", &format!("10.{net}.{n}.1/24"), "dev", &root_link])?;
            ip(&["link", "set", &root_link, "up"])?;
            let inside = |args: &[&str]| {
                let mut all = vec!["netns", "exec", netns.as_str(), "ip"];
                all.extend_from_slice(args);
                ip(&all)
            };
            inside(&["addr", "add", &format!("10.{net}.{n}.2/24"), "dev", &site_link])?;
            inside(&["link", "set", &site_link, "up"])?;
            inside(&["link", "set", "lo", "up"])?;
            inside(&["route", "add", "default", "via", &format!("10.{net}.{n}.1")])?;
            sites.push(Placement { netns, ip: format!("10.{net}.{n}.2") });
            root_links.push(root_link);
        }
        let (Some(b), Some(a)) = (sites.pop(), sites.pop()) else { bail!("two sites expected") };
        let [ra, rb]: [String; 2] = root_links.try_into().map_err(|_| anyhow::anyhow!("two links expected"))?;
        let sites = Self { a, b, root_links: [ra, rb] };
        sites.heal()?;
        Ok(Ok(sites))
    }

    /// Cuts the sites apart.
    pub fn cut(&self) -> anyhow::Result<()> {
        self.root_links.iter().try_for_each(|l| forwarding(l, false))
    }

    /// Connects the sites again.
    pub fn heal(&self) -> anyhow::Result<()> {
        self.root_links.iter().try_for_each(|l| forwarding(l, true))
    }
}

impl Drop for TwoSites {
    fn drop(&mut self) {
        for site in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", &site.netns]).output();
        }
        for link in &self.root_links {
            let _ = Command::new("ip").args(["link", "del", link]).output();
        }
    }
}
