//! The private-community getters: signed by the account that asks, answered by the enclave from
//! the shard's state (ENCOINTER.md A.4). An account reads its own community-currency balance,
//! registration, meetup and reputation; anybody reads the ceremony's phase and counts; only the
//! community's manager reads its participants, meetups, attestations and the community itself
//! (anybody else is refused with "not authorized").

use super::render::{
    account_json, amount, amount_json, label, location, location_json, short, ss58_list, time, time_json,
};
use crate::{chain::CommandError, output::Report, signer::Signer, trusted::TrustedClient};
use cloister_stf::{
    encointer::{Attestations, CeremonyView, CommunityInfo, MeetupView, OwnMeetup, Participant, RegistrationView},
    TrustedGetter,
};
use codec::Decode;
use encointer_primitives::{
    balances::BalanceType, ceremonies::Reputation, communities::CommunityIdentifier, scheduler::CeremonyIndexType,
};
use serde_json::{json, Value};

/// Runs `getter` signed by `signer` and decodes its answer as `T` (`what` names it in errors).
pub async fn fetch<T: Decode>(
    client: &TrustedClient,
    signer: &Signer,
    getter: TrustedGetter,
    what: &str,
) -> Result<T, CommandError> {
    let bytes = client.get(signer, getter).await?;
    T::decode(&mut &bytes[..]).map_err(|_| CommandError::Invalid(format!("the enclave sent a malformed {what}")))
}

/// The signer's community-currency balance in `cid`, demurrage applied.
pub async fn fetch_cc_balance(
    client: &TrustedClient,
    signer: &Signer,
    cid: CommunityIdentifier,
) -> Result<BalanceType, CommandError> {
    fetch(client, signer, TrustedGetter::CcBalance(signer.account(), cid), "balance").await
}

/// The signer's registration for the ceremony registrations go to now.
pub async fn fetch_registration(
    client: &TrustedClient,
    signer: &Signer,
    cid: CommunityIdentifier,
) -> Result<RegistrationView, CommandError> {
    fetch(client, signer, TrustedGetter::Registration(signer.account(), cid), "registration").await
}

/// The ceremony of `cid` (public: any signer).
pub async fn fetch_ceremony(
    client: &TrustedClient,
    signer: &Signer,
    cid: CommunityIdentifier,
) -> Result<CeremonyView, CommandError> {
    fetch(client, signer, TrustedGetter::Ceremony(signer.account(), cid), "ceremony").await
}

/// The meetups of a ceremony (manager only).
pub async fn fetch_meetups(
    client: &TrustedClient,
    manager: &Signer,
    cid: CommunityIdentifier,
    cindex: Option<CeremonyIndexType>,
) -> Result<Vec<MeetupView>, CommandError> {
    fetch(client, manager, TrustedGetter::ListMeetups(manager.account(), cid, cindex), "meetup list").await
}

/// The ceremony index a manager list is of: the one asked for, else the current one.
async fn ceremony_index(
    client: &TrustedClient,
    signer: &Signer,
    cid: CommunityIdentifier,
    cindex: Option<CeremonyIndexType>,
) -> Result<CeremonyIndexType, CommandError> {
    match cindex {
        Some(cindex) => Ok(cindex),
        None => Ok(fetch_ceremony(client, signer, cid).await?.cindex),
    }
}

/// `trusted balance ACCOUNT --cid CID`.
pub async fn cc_balance(
    client: &TrustedClient,
    account: &str,
    cid: CommunityIdentifier,
) -> Result<Report, CommandError> {
    let signer = Signer::from_suri(account)?;
    let balance = fetch_cc_balance(client, &signer, cid).await?;
    Ok(Report::new(
        amount(balance),
        json!({ "account": crate::signer::ss58(&signer.account()), "cid": cid.to_string(), "balance": amount_json(balance) }),
    ))
}

/// `trusted registration WHO CID`.
pub async fn registration(client: &TrustedClient, who: &str, cid: CommunityIdentifier) -> Result<Report, CommandError> {
    let signer = Signer::from_suri(who)?;
    let view = fetch_registration(client, &signer, cid).await?;
    Ok(registration_report(&signer, cid, &view))
}

/// A registration as a [`Report`].
pub fn registration_report(signer: &Signer, cid: CommunityIdentifier, view: &RegistrationView) -> Report {
    let who = label(&signer.account());
    let human = match view.participant_type {
        Some(kind) => format!("{who} is registered in {cid} as {kind:?} for ceremony {}", view.cindex),
        None => format!("{who} is not registered in {cid} for ceremony {}", view.cindex),
    };
    Report::new(
        format!("{human} (phase {:?})", view.phase),
        json!({
            "who": account_json(&signer.account()),
            "cid": cid.to_string(),
            "phase": format!("{:?}", view.phase),
            "cindex": view.cindex,
            "registered": view.participant_type.is_some(),
            "participant_type": view.participant_type.map(|t| format!("{t:?}")),
        }),
    )
}

/// `trusted meetup WHO CID`: the account's own meetup (where, when, how many; not who).
pub async fn meetup(client: &TrustedClient, who: &str, cid: CommunityIdentifier) -> Result<Report, CommandError> {
    let signer = Signer::from_suri(who)?;
    let own: Option<OwnMeetup> = fetch(client, &signer, TrustedGetter::Meetup(signer.account(), cid), "meetup").await?;
    let who_json = account_json(&signer.account());
    let Some(own) = own else {
        return Ok(Report::new(
            format!("{}: not assigned to a meetup in {cid}", label(&signer.account())),
            json!({ "who": who_json, "cid": cid.to_string(), "assigned": false }),
        ));
    };
    let place = own.location.as_ref().map(location).unwrap_or_else(|| "no location".into());
    Ok(Report::new(
        format!(
            "{}: meetup {} of ceremony {} in {cid}, {} participants, at {place}, {}",
            label(&signer.account()),
            own.index,
            own.cindex,
            own.participants,
            time(own.time)
        ),
        json!({
            "who": who_json,
            "cid": cid.to_string(),
            "assigned": true,
            "cindex": own.cindex,
            "index": own.index,
            "location": own.location.as_ref().map(location_json),
            "time": time_json(own.time),
            "participants": own.participants,
        }),
    ))
}

/// `trusted reputation WHO CID`.
pub async fn reputation(client: &TrustedClient, who: &str, cid: CommunityIdentifier) -> Result<Report, CommandError> {
    let signer = Signer::from_suri(who)?;
    let reputations: Vec<(CeremonyIndexType, Reputation)> =
        fetch(client, &signer, TrustedGetter::Reputation(signer.account(), cid), "reputation").await?;
    let human = if reputations.is_empty() {
        format!("{}: no reputation in {cid}", label(&signer.account()))
    } else {
        let lines: Vec<String> =
            reputations.iter().map(|(cindex, rep)| format!("  ceremony {cindex}: {rep:?}")).collect();
        format!("{} in {cid}:\n{}", label(&signer.account()), lines.join("\n"))
    };
    Ok(Report::new(
        human,
        json!({
            "who": account_json(&signer.account()),
            "cid": cid.to_string(),
            "reputation": reputations
                .iter()
                .map(|(cindex, rep)| json!({ "cindex": cindex, "reputation": format!("{rep:?}") }))
                .collect::<Vec<_>>(),
        }),
    ))
}

/// `trusted ceremony WHO CID`: phase, index and counts (public).
pub async fn ceremony(client: &TrustedClient, who: &str, cid: CommunityIdentifier) -> Result<Report, CommandError> {
    let signer = Signer::from_suri(who)?;
    let view = fetch_ceremony(client, &signer, cid).await?;
    Ok(ceremony_report(cid, &view))
}

fn ceremony_json(cid: CommunityIdentifier, view: &CeremonyView) -> Value {
    let [bootstrappers, reputables, endorsees, newbies] = view.registered;
    json!({
        "cid": cid.to_string(),
        "private": view.private,
        "phase": format!("{:?}", view.phase),
        "cindex": view.cindex,
        "next_phase": time_json(Some(view.next_phase_timestamp)),
        "registered": {
            "bootstrappers": bootstrappers,
            "reputables": reputables,
            "endorsees": endorsees,
            "newbies": newbies,
        },
        "meetups": view.meetups,
        "attested": view.attested,
    })
}

/// A ceremony as a [`Report`].
pub fn ceremony_report(cid: CommunityIdentifier, view: &CeremonyView) -> Report {
    let [b, r, e, n] = view.registered;
    let private = if view.private { "private on this shard" } else { "not private on this shard" };
    Report::new(
        format!(
            "{cid} ({private}): ceremony {}, {:?} until {}; registered: {b} bootstrappers, {r} reputables, \
             {e} endorsees, {n} newbies; {} meetups; {} attested",
            view.cindex,
            view.phase,
            time(Some(view.next_phase_timestamp)),
            view.meetups,
            view.attested
        ),
        ceremony_json(cid, view),
    )
}

/// `trusted list-participants MANAGER CID [--cindex N]` (manager only).
pub async fn list_participants(
    client: &TrustedClient,
    manager: &str,
    cid: CommunityIdentifier,
    cindex: Option<CeremonyIndexType>,
) -> Result<Report, CommandError> {
    let signer = Signer::from_suri(manager)?;
    let cindex = ceremony_index(client, &signer, cid, cindex).await?;
    let list: Vec<Participant> = fetch(
        client,
        &signer,
        TrustedGetter::ListParticipants(signer.account(), cid, Some(cindex)),
        "participant list",
    )
    .await?;
    let lines: Vec<String> =
        list.iter().map(|p| format!("  {:?} #{}  {}", p.participant_type, p.index, label(&p.account))).collect();
    Ok(Report::new(
        format!("{} participants registered in {cid} for ceremony {cindex}\n{}", list.len(), lines.join("\n"))
            .trim_end()
            .to_string(),
        json!({
            "cid": cid.to_string(),
            "cindex": cindex,
            "participants": list
                .iter()
                .map(|p| {
                    let mut entry = account_json(&p.account);
                    entry["type"] = json!(format!("{:?}", p.participant_type));
                    entry["index"] = json!(p.index);
                    entry
                })
                .collect::<Vec<_>>(),
        }),
    ))
}

/// `trusted list-meetups MANAGER CID [--cindex N]` (manager only).
pub async fn list_meetups(
    client: &TrustedClient,
    manager: &str,
    cid: CommunityIdentifier,
    cindex: Option<CeremonyIndexType>,
) -> Result<Report, CommandError> {
    let signer = Signer::from_suri(manager)?;
    let cindex = ceremony_index(client, &signer, cid, cindex).await?;
    let meetups = fetch_meetups(client, &signer, cid, Some(cindex)).await?;
    let mut lines = vec![format!("{} meetups in {cid} for ceremony {cindex}", meetups.len())];
    for m in &meetups {
        let place = m.location.as_ref().map(location).unwrap_or_else(|| "no location".into());
        lines.push(format!("  meetup {}: {} participants at {place}, {}", m.index, m.participants.len(), time(m.time)));
        lines.extend(m.participants.iter().map(|p| format!("    {}", label(p))));
    }
    Ok(Report::new(
        lines.join("\n"),
        json!({
            "cid": cid.to_string(),
            "cindex": cindex,
            "meetups": meetups
                .iter()
                .map(|m| json!({
                    "index": m.index,
                    "location": m.location.as_ref().map(location_json),
                    "time": time_json(m.time),
                    "participants": ss58_list(&m.participants),
                }))
                .collect::<Vec<_>>(),
        }),
    ))
}

/// `trusted list-attestees MANAGER CID [--cindex N]` (manager only).
pub async fn list_attestees(
    client: &TrustedClient,
    manager: &str,
    cid: CommunityIdentifier,
    cindex: Option<CeremonyIndexType>,
) -> Result<Report, CommandError> {
    let signer = Signer::from_suri(manager)?;
    let cindex = ceremony_index(client, &signer, cid, cindex).await?;
    let list: Vec<Attestations> =
        fetch(client, &signer, TrustedGetter::ListAttestees(signer.account(), cid, Some(cindex)), "attestation list")
            .await?;
    let mut lines = vec![format!("{} participants attested in {cid} for ceremony {cindex}", list.len())];
    for a in &list {
        let names: Vec<String> = a.attestees.iter().map(short).collect();
        lines.push(format!("  {} (vote {}) attested {}", label(&a.attester), a.vote, names.join(", ")));
    }
    Ok(Report::new(
        lines.join("\n"),
        json!({
            "cid": cid.to_string(),
            "cindex": cindex,
            "attestations": list
                .iter()
                .map(|a| json!({
                    "attester": crate::signer::ss58(&a.attester),
                    "name": super::render::name_of(&a.attester),
                    "vote": a.vote,
                    "attestees": ss58_list(&a.attestees),
                }))
                .collect::<Vec<_>>(),
        }),
    ))
}

/// `trusted community-info MANAGER CID` (manager only).
pub async fn community_info(
    client: &TrustedClient,
    manager: &str,
    cid: CommunityIdentifier,
) -> Result<Report, CommandError> {
    let signer = Signer::from_suri(manager)?;
    let info: CommunityInfo =
        fetch(client, &signer, TrustedGetter::CommunityInfo(signer.account(), cid), "community").await?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let name = text(&info.metadata.name);
    let symbol = text(&info.metadata.symbol);
    let demurrage = info.demurrage.to_num::<f64>();
    let human = [
        format!("{cid}: {name} ({symbol}), managed by {}", label(&info.manager)),
        format!("  bootstrappers: {}", info.bootstrappers.iter().map(short).collect::<Vec<_>>().join(", ")),
        format!(
            "  locations: {}",
            info.locations.iter().map(location).map(|l| format!("({l})")).collect::<Vec<_>>().join(", ")
        ),
        format!(
            "  nominal income {} per ceremony; demurrage {demurrage:.6e} per block; total issuance {}",
            amount(info.nominal_income),
            amount(info.total_issuance)
        ),
        format!("  {}", ceremony_report(cid, &info.ceremony).human),
    ]
    .join("\n");
    Ok(Report::new(
        human,
        json!({
            "cid": cid.to_string(),
            "name": name,
            "symbol": symbol,
            "assets": text(&info.metadata.assets),
            "url": info.metadata.url.as_ref().map(|u| text(u)),
            "manager": account_json(&info.manager),
            "bootstrappers": ss58_list(&info.bootstrappers),
            "locations": info.locations.iter().map(location_json).collect::<Vec<_>>(),
            "nominal_income": amount_json(info.nominal_income),
            "demurrage_per_block": demurrage,
            "total_issuance": amount_json(info.total_issuance),
            "ceremony": ceremony_json(cid, &info.ceremony),
        }),
    ))
}
