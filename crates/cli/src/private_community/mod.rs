//! `cloister trusted … <command>` for private Encointer communities (ENCOINTER.md Part A).
//!
//! A public community made private on a shard keeps its record on the parentchain; its
//! ceremonies (registration, assignment, attestation, rewards) and its currency live only in
//! the shard, behind the enclave:
//!
//! ```text
//!   make-community-private ── public record + read proof (parentchain, finalized) ──► enclave
//!   register / endorse / attest / claim / transfer ── trusted calls, signed, nonce ──► enclave
//!   balance --cid / registration / meetup / reputation ── own data, signed getters ──► enclave
//!   ceremony ── phase and counts, anybody; list-* / community-info ── manager only
//! ```
//!
//! - [`args`]: community identifiers, amounts and `CID:CINDEX` parsed without panics;
//! - [`calls`]: the calls; [`getters`]: the reads; [`render`]: how answers read.
//!
//! Every command returns a [`Report`] (text and JSON) rather than printing, so that
//! `cloister demo private-community` runs the very same code and shows what it returns.

pub mod args;
pub mod calls;
pub mod getters;
pub mod render;

use crate::{chain::CommandError, output::Report, rpc_client::NodeClient, trusted::TrustedClient};
use clap::Subcommand;
use encointer_primitives::{
    ceremonies::{CommunityCeremony, MeetupIndexType},
    communities::CommunityIdentifier,
    scheduler::CeremonyIndexType,
};

/// Private-community commands of `cloister trusted`. Accounts that sign are secret URIs; the
/// others may also be SS58 addresses. `CID` is a community identifier such as `sqm1v79dF6b`.
#[derive(Debug, Clone, Subcommand)]
pub enum CommunityCommand {
    /// Make a public community private on the shard, with MANAGER (the parentchain's sudo key or
    /// a bootstrapper) as its manager. Only during Registering.
    MakeCommunityPrivate {
        /// Secret URI of the manager-to-be.
        manager: String,
        /// The public community.
        #[arg(value_parser = args::parse_cid)]
        cid: CommunityIdentifier,
    },
    /// Register for the next ceremony: as a bootstrapper, a reputable (--reputation), an
    /// endorsee or a newbie.
    RegisterParticipant {
        /// Secret URI of the participant.
        who: String,
        /// The community.
        #[arg(value_parser = args::parse_cid)]
        cid: CommunityIdentifier,
        /// Register as a reputable with the attendance at this earlier ceremony of CID.
        #[arg(long, value_name = "CINDEX")]
        reputation: Option<CeremonyIndexType>,
    },
    /// Turn a newbie's registration into a reputable's with an earlier attendance.
    UpgradeRegistration {
        /// Secret URI of the participant.
        who: String,
        /// The community.
        #[arg(value_parser = args::parse_cid)]
        cid: CommunityIdentifier,
        /// The earlier ceremony of CID the participant attended.
        #[arg(long, value_name = "CINDEX")]
        reputation: CeremonyIndexType,
    },
    /// Withdraw a registration.
    UnregisterParticipant {
        /// Secret URI of the participant.
        who: String,
        /// The community.
        #[arg(value_parser = args::parse_cid)]
        cid: CommunityIdentifier,
        /// The reputation a reputable registered with, as CID:CINDEX (given back).
        #[arg(long, value_name = "CID:CINDEX", value_parser = args::parse_community_ceremony)]
        reputation_of: Option<CommunityCeremony>,
    },
    /// Spend an endorsement ticket (bootstrapper or reputable) on a newcomer.
    EndorseNewcomer {
        /// Secret URI of the endorser.
        who: String,
        /// The community.
        #[arg(value_parser = args::parse_cid)]
        cid: CommunityIdentifier,
        /// The newcomer (SS58 address or secret URI).
        newbie: String,
    },
    /// Attest the others met at the meetup (Attesting phase).
    AttestAttendees {
        /// Secret URI of the attester.
        who: String,
        /// The community.
        #[arg(value_parser = args::parse_cid)]
        cid: CommunityIdentifier,
        /// The others present (SS58 addresses or secret URIs).
        #[arg(required = true)]
        attestees: Vec<String>,
        /// How many were at the meetup, the attester included (default: attestees + 1).
        #[arg(long)]
        vote: Option<u32>,
    },
    /// Claim the rewards of a meetup for all its legitimate participants.
    ClaimRewards {
        /// Secret URI of the claimant.
        who: String,
        /// The community.
        #[arg(value_parser = args::parse_cid)]
        cid: CommunityIdentifier,
        /// The meetup (default: the claimant's own).
        #[arg(long)]
        meetup: Option<MeetupIndexType>,
    },
    /// How the account is registered for the ceremony registrations go to now.
    Registration {
        /// Secret URI of the account.
        who: String,
        /// The community.
        #[arg(value_parser = args::parse_cid)]
        cid: CommunityIdentifier,
    },
    /// The account's own meetup: index, place, time, number of participants.
    Meetup {
        /// Secret URI of the account.
        who: String,
        /// The community.
        #[arg(value_parser = args::parse_cid)]
        cid: CommunityIdentifier,
    },
    /// The account's reputation in each ceremony of the community.
    Reputation {
        /// Secret URI of the account.
        who: String,
        /// The community.
        #[arg(value_parser = args::parse_cid)]
        cid: CommunityIdentifier,
    },
    /// The ceremony: phase, index and aggregate counts (anybody may ask).
    Ceremony {
        /// Secret URI of whoever asks.
        who: String,
        /// The community.
        #[arg(value_parser = args::parse_cid)]
        cid: CommunityIdentifier,
    },
    /// Manager only: who registered for a ceremony.
    ListParticipants {
        /// Secret URI of the manager.
        manager: String,
        /// The community.
        #[arg(value_parser = args::parse_cid)]
        cid: CommunityIdentifier,
        /// The ceremony (default: the current one).
        #[arg(long)]
        cindex: Option<CeremonyIndexType>,
    },
    /// Manager only: the meetups of a ceremony, with place, time and participants.
    ListMeetups {
        /// Secret URI of the manager.
        manager: String,
        /// The community.
        #[arg(value_parser = args::parse_cid)]
        cid: CommunityIdentifier,
        /// The ceremony (default: the current one).
        #[arg(long)]
        cindex: Option<CeremonyIndexType>,
    },
    /// Manager only: who attested whom in a ceremony.
    ListAttestees {
        /// Secret URI of the manager.
        manager: String,
        /// The community.
        #[arg(value_parser = args::parse_cid)]
        cid: CommunityIdentifier,
        /// The ceremony (default: the current one).
        #[arg(long)]
        cindex: Option<CeremonyIndexType>,
    },
    /// Manager only: the community as the shard holds it.
    CommunityInfo {
        /// Secret URI of the manager.
        manager: String,
        /// The community.
        #[arg(value_parser = args::parse_cid)]
        cid: CommunityIdentifier,
    },
}

/// Runs a private-community command on connected clients.
pub async fn run(node: &NodeClient, client: &TrustedClient, command: CommunityCommand) -> Result<Report, CommandError> {
    use CommunityCommand as C;
    match command {
        C::MakeCommunityPrivate { manager, cid } => calls::make_community_private(node, client, &manager, cid).await,
        C::RegisterParticipant { who, cid, reputation } => {
            calls::register_participant(client, &who, cid, reputation).await
        }
        C::UpgradeRegistration { who, cid, reputation } => {
            calls::upgrade_registration(client, &who, cid, reputation).await
        }
        C::UnregisterParticipant { who, cid, reputation_of } => {
            calls::unregister_participant(client, &who, cid, reputation_of).await
        }
        C::EndorseNewcomer { who, cid, newbie } => calls::endorse_newcomer(client, &who, cid, &newbie).await,
        C::AttestAttendees { who, cid, attestees, vote } => {
            calls::attest_attendees(client, &who, cid, &attestees, vote).await
        }
        C::ClaimRewards { who, cid, meetup } => calls::claim_rewards(client, &who, cid, meetup).await,
        C::Registration { who, cid } => getters::registration(client, &who, cid).await,
        C::Meetup { who, cid } => getters::meetup(client, &who, cid).await,
        C::Reputation { who, cid } => getters::reputation(client, &who, cid).await,
        C::Ceremony { who, cid } => getters::ceremony(client, &who, cid).await,
        C::ListParticipants { manager, cid, cindex } => getters::list_participants(client, &manager, cid, cindex).await,
        C::ListMeetups { manager, cid, cindex } => getters::list_meetups(client, &manager, cid, cindex).await,
        C::ListAttestees { manager, cid, cindex } => getters::list_attestees(client, &manager, cid, cindex).await,
        C::CommunityInfo { manager, cid } => getters::community_info(client, &manager, cid).await,
    }
}
