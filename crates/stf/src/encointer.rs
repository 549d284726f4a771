//! Private Encointer communities on a shard (ENCOINTER.md Part A, ARCHITECTURE.md 6.8).
//!
//! - **Phase mirror.** The parentchain drives the ceremony rhythm. The enclave sees each
//!   `PhaseChangedTo` event in verified parentchain blocks and applies it here
//!   ([`phase_changed`]): the phase (and, on Registering, the ceremony index) is set, then the
//!   ceremonies pallet's phase hook runs, so meetups are assigned inside the enclave with its own
//!   randomness. The scheduler values themselves ([`scheduler_keys`]) are then copied from a
//!   verified read proof ([`mirror`]); the pallet names are the parentchain's, so a value keeps
//!   its key on both chains.
//! - **Making a community private.** The manager's call carries a read proof of the public record
//!   ([`public_community_keys`]); the enclave verifies it against a finalized parentchain header
//!   and turns it into a [`PublicCommunity`], which [`make_private`] founds again on the shard
//!   through the communities pallet (the identifier comes out the same) with the ceremony
//!   parameters copied from the parentchain.
//! - **Reads.** [`answer`] serves the getters: an account's own registration, meetup, reputation
//!   and balance; the ceremony's phase and aggregate counts to anybody; the registers only to the
//!   community's manager. Any other asker gets [`StfError::NotAuthorized`] and nothing else, the
//!   same whether the community exists or not.
//!
//! Everything here runs inside the shard state's externalities.

use crate::{
    executor::describe,
    ops::TrustedGetter,
    runtime::{EncointerBalances, EncointerCeremonies, EncointerCommunities, EncointerScheduler, RuntimeCall},
    StfError,
};
use cloister_primitives::AccountId;
use codec::{Decode, Encode};
use encointer_ceremonies_assignment::{assignment_fn_inverse, get_meetup_location_index, meetup_time};
use encointer_primitives::{
    balances::{BalanceType, Demurrage},
    ceremonies::{CommunityCeremony, MeetupIndexType, ParticipantType, Reputation},
    communities::{CommunityIdentifier, CommunityMetadata, GeoHash, Location},
    scheduler::{CeremonyIndexType, CeremonyPhaseType},
};
use frame_support::storage::unhashed;
use pallet_encointer_scheduler::OnCeremonyPhaseChange;
use sp_runtime::traits::Dispatchable;

/// Storage entries read from the parentchain: `(key, value)`, `None` where a proof shows the key
/// absent.
pub type StorageValues = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// The key of the FRAME storage value `pallet::item`.
fn value_key(pallet: &str, item: &str) -> Vec<u8> {
    frame_support::storage::storage_prefix(pallet.as_bytes(), item.as_bytes()).to_vec()
}

/// The key of entry `key` of the `Blake2_128Concat` map `pallet::item`.
fn map_key(pallet: &str, item: &str, key: &impl Encode) -> Vec<u8> {
    use frame_support::StorageHasher;
    [value_key(pallet, item), frame_support::Blake2_128Concat::hash(&key.encode())].concat()
}

/// The scheduler values the shard mirrors from the parentchain, in this order: phase, ceremony
/// index, next phase timestamp, then the durations of Registering, Assigning and Attesting.
pub fn scheduler_keys() -> Vec<Vec<u8>> {
    let mut keys = vec![
        value_key("EncointerScheduler", "CurrentPhase"),
        value_key("EncointerScheduler", "CurrentCeremonyIndex"),
        value_key("EncointerScheduler", "NextPhaseTimestamp"),
    ];
    for phase in [CeremonyPhaseType::Registering, CeremonyPhaseType::Assigning, CeremonyPhaseType::Attesting] {
        keys.push(map_key("EncointerScheduler", "PhaseDurations", &phase));
    }
    keys
}

/// The ceremony and community parameters a private community takes from the parentchain.
pub fn parameter_keys() -> Vec<Vec<u8>> {
    let ceremonies = [
        "CeremonyReward",
        "LocationTolerance",
        "TimeTolerance",
        "InactivityTimeout",
        "EndorsementTicketsPerBootstrapper",
        "EndorsementTicketsPerReputable",
        "ReputationLifetime",
        "MeetupTimeOffset",
    ];
    let mut keys: Vec<_> = ceremonies.iter().map(|item| value_key("EncointerCeremonies", item)).collect();
    keys.push(value_key("EncointerCommunities", "MinSolarTripTimeS"));
    keys.push(value_key("EncointerCommunities", "MaxSpeedMps"));
    keys
}

/// The key of `Locations(cid, cell)` on the parentchain.
pub fn locations_key(cid: &CommunityIdentifier, cell: &GeoHash) -> Vec<u8> {
    let mut key = locations_prefix(cid);
    key.extend_from_slice(&cell.encode());
    key
}

/// The prefix of every `Locations(cid, _)` key: what a client lists to find a community's cells.
pub fn locations_prefix(cid: &CommunityIdentifier) -> Vec<u8> {
    map_key("EncointerCommunities", "Locations", cid)
}

/// The parentchain keys a [`crate::TrustedCall::MakeCommunityPrivate`] proof must cover, in the
/// order [`PublicCommunity::from_proven`] reads them.
pub fn public_community_keys(cid: &CommunityIdentifier, cells: &[GeoHash]) -> Vec<Vec<u8>> {
    let mut keys = vec![
        map_key("EncointerCommunities", "CommunityMetadata", cid),
        map_key("EncointerCommunities", "Bootstrappers", cid),
        map_key("EncointerCommunities", "NominalIncome", cid),
        map_key("EncointerBalances", "DemurragePerBlock", cid),
        value_key("Sudo", "Key"),
    ];
    keys.extend(parameter_keys());
    keys.extend(cells.iter().map(|cell| locations_key(cid, cell)));
    keys
}

/// A public community as the parentchain holds it, read through a verified proof.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct PublicCommunity {
    /// Its identifier.
    pub cid: CommunityIdentifier,
    /// Name, symbol, assets.
    pub metadata: CommunityMetadata,
    /// Its bootstrappers, in the order the identifier was made from.
    pub bootstrappers: Vec<AccountId>,
    /// Its meetup locations in the cells the proof covered.
    pub locations: Vec<Location>,
    /// Its nominal income, if it sets one.
    pub nominal_income: Option<BalanceType>,
    /// Its demurrage per block, if it sets one.
    pub demurrage: Option<Demurrage>,
    /// The parentchain's sudo key (the ceremony master of a `--dev` chain).
    pub sudo: Option<AccountId>,
    /// Ceremony and community parameters, copied as they are.
    pub parameters: StorageValues,
}

impl PublicCommunity {
    /// Builds the record from the values of [`public_community_keys`]`(cid, cells)`, in order,
    /// as a verified read proof gave them.
    pub fn from_proven(cid: CommunityIdentifier, cells: &[GeoHash], values: StorageValues) -> Result<Self, String> {
        let expected = public_community_keys(&cid, cells);
        if values.len() != expected.len() || values.iter().zip(&expected).any(|((key, _), want)| key != want) {
            return Err("the proof does not answer the community's keys".into());
        }
        let mut values = values.into_iter().map(|(_, value)| value);
        let mut next = || values.next().flatten();
        fn decode<T: Decode>(bytes: Option<Vec<u8>>, what: &str) -> Result<Option<T>, String> {
            bytes.map(|b| T::decode(&mut &b[..]).map_err(|_| format!("undecodable {what}"))).transpose()
        }
        let metadata: CommunityMetadata =
            decode(next(), "metadata")?.ok_or_else(|| format!("community {cid} does not exist on the parentchain"))?;
        let bootstrappers: Vec<AccountId> = decode(next(), "bootstrappers")?.unwrap_or_default();
        let nominal_income = decode(next(), "nominal income")?;
        let demurrage = decode(next(), "demurrage")?;
        let sudo = decode(next(), "sudo key")?;
        let parameters: Vec<_> = parameter_keys().into_iter().map(|key| (key, next())).collect();
        let mut locations = Vec::new();
        for _ in cells {
            let found: Vec<Location> = decode(next(), "locations")?.unwrap_or_default();
            locations.extend(found);
        }
        Ok(Self { cid, metadata, bootstrappers, locations, nominal_income, demurrage, sudo, parameters })
    }
}

/// Prefix of the managers of the shard's private communities: `PREFIX ++ cid` → `AccountId`.
const MANAGER_PREFIX: &[u8] = b":cloister:manager:";

fn manager_key(cid: &CommunityIdentifier) -> Vec<u8> {
    [MANAGER_PREFIX, &cid.encode()[..]].concat()
}

/// The manager of private community `cid` on this shard.
pub fn manager(cid: &CommunityIdentifier) -> Option<AccountId> {
    unhashed::get(&manager_key(cid))
}

fn dispatch_as_root(call: RuntimeCall) -> Result<(), String> {
    call.dispatch(frame_system::RawOrigin::Root.into()).map(|_| ()).map_err(|e| describe(e.error))
}

/// Founds `public` again on the shard as a private community managed by `who`. Runs inside a
/// transaction that the caller rolls back on error.
pub fn make_private(who: &AccountId, public: &PublicCommunity) -> Result<(), String> {
    let cid = public.cid;
    if manager(&cid).is_some() {
        return Err(format!("community {cid} is already private on this shard"));
    }
    if public.sudo.as_ref() != Some(who) && !public.bootstrappers.contains(who) {
        return Err(
            "not authorized: only the parentchain's sudo key or a bootstrapper makes a community private".into()
        );
    }
    if EncointerScheduler::current_phase() != CeremonyPhaseType::Registering {
        return Err("a community becomes private during Registering only".into());
    }
    let founding = public
        .locations
        .iter()
        .find(|loc| CommunityIdentifier::new(**loc, public.bootstrappers.clone()).ok() == Some(cid))
        .copied()
        .ok_or_else(|| format!("no proven location founds {cid}"))?;
    mirror(&public.parameters);
    dispatch_as_root(RuntimeCall::EncointerCommunities(pallet_encointer_communities::Call::new_community {
        location: founding,
        bootstrappers: public.bootstrappers.clone(),
        community_metadata: public.metadata.clone(),
        demurrage: public.demurrage,
        nominal_income: public.nominal_income,
    }))?;
    for location in public.locations.iter().filter(|loc| **loc != founding) {
        dispatch_as_root(RuntimeCall::EncointerCommunities(pallet_encointer_communities::Call::add_location {
            cid,
            location: *location,
        }))?;
    }
    unhashed::put(&manager_key(&cid), who);
    Ok(())
}

/// Applies a phase change seen on the parentchain: the new phase (and ceremony index, on
/// Registering), then the ceremonies pallet's hook, which assigns meetups on Assigning.
pub fn phase_changed(phase: CeremonyPhaseType) {
    let keys = scheduler_keys();
    if phase == CeremonyPhaseType::Registering {
        let next = EncointerScheduler::current_ceremony_index().saturating_add(1);
        unhashed::put(&keys[1], &next);
    }
    unhashed::put(&keys[0], &phase);
    <EncointerCeremonies as OnCeremonyPhaseChange>::on_ceremony_phase_change(phase);
}

/// Writes mirrored parentchain values (`None` removes one).
pub fn mirror(values: &StorageValues) {
    for (key, value) in values {
        match value {
            Some(value) => unhashed::put_raw(key, value),
            None => unhashed::kill(key),
        }
    }
}

/// An account's registration, as its owner reads it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct RegistrationView {
    /// The phase now.
    pub phase: CeremonyPhaseType,
    /// The ceremony registrations go to now (the current one, or the next during Attesting).
    pub cindex: CeremonyIndexType,
    /// How the account is registered for it, if it is.
    pub participant_type: Option<ParticipantType>,
}

/// An account's own meetup: where, when and how many, but not who.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct OwnMeetup {
    /// The ceremony.
    pub cindex: CeremonyIndexType,
    /// The meetup's index (1-based).
    pub index: MeetupIndexType,
    /// Where.
    pub location: Option<Location>,
    /// When, unix milliseconds (known from Assigning on).
    pub time: Option<u64>,
    /// How many participants it has, the account included.
    pub participants: u32,
}

/// The ceremony as anybody may see it: phase, index and counts.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct CeremonyView {
    /// Whether the community is private on this shard.
    pub private: bool,
    /// The phase.
    pub phase: CeremonyPhaseType,
    /// The current ceremony index.
    pub cindex: CeremonyIndexType,
    /// When the next phase begins, unix milliseconds.
    pub next_phase_timestamp: u64,
    /// Registered bootstrappers, reputables, endorsees and newbies for the current ceremony.
    pub registered: [u64; 4],
    /// Meetups assigned in the current ceremony.
    pub meetups: u64,
    /// Participants who attested in the current ceremony.
    pub attested: u64,
}

/// One registered participant (manager only).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Participant {
    /// How it registered.
    pub participant_type: ParticipantType,
    /// Its index in the register of its type (1-based).
    pub index: u64,
    /// Who.
    pub account: AccountId,
}

/// One meetup (manager only).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct MeetupView {
    /// Its index (1-based).
    pub index: MeetupIndexType,
    /// Where.
    pub location: Option<Location>,
    /// When, unix milliseconds (for the current ceremony, from Assigning on).
    pub time: Option<u64>,
    /// Who meets there.
    pub participants: Vec<AccountId>,
}

/// One participant's attestations (manager only).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Attestations {
    /// Who attested.
    pub attester: AccountId,
    /// How many it counted at the meetup, itself included.
    pub vote: u32,
    /// Whom it attested.
    pub attestees: Vec<AccountId>,
}

/// A private community as the shard holds it (manager only).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct CommunityInfo {
    /// Its identifier.
    pub cid: CommunityIdentifier,
    /// Name, symbol, assets.
    pub metadata: CommunityMetadata,
    /// Its manager.
    pub manager: AccountId,
    /// Its bootstrappers.
    pub bootstrappers: Vec<AccountId>,
    /// Its meetup locations, in canonical order.
    pub locations: Vec<Location>,
    /// The reward per attended ceremony.
    pub nominal_income: BalanceType,
    /// Demurrage per (parentchain) block.
    pub demurrage: Demurrage,
    /// Community currency in existence, demurrage applied.
    pub total_issuance: BalanceType,
    /// The ceremony.
    pub ceremony: CeremonyView,
}

/// The ceremony registrations go to in the current phase (ENCOINTER.md §3.2; Assigning: the
/// current one, whose registrations are closed).
fn registration_cindex() -> CeremonyIndexType {
    let cindex = EncointerScheduler::current_ceremony_index();
    match EncointerScheduler::current_phase() {
        CeremonyPhaseType::Attesting => cindex.saturating_add(1),
        _ => cindex,
    }
}

/// How `who` registered for `cc`, with its register index.
fn participant_type(cc: CommunityCeremony, who: &AccountId) -> Option<(ParticipantType, u64)> {
    [
        (ParticipantType::Bootstrapper, EncointerCeremonies::bootstrapper_index(cc, who)),
        (ParticipantType::Reputable, EncointerCeremonies::reputable_index(cc, who)),
        (ParticipantType::Endorsee, EncointerCeremonies::endorsee_index(cc, who)),
        (ParticipantType::Newbie, EncointerCeremonies::newbie_index(cc, who)),
    ]
    .into_iter()
    .find(|(_, index)| *index > 0)
}

/// Everybody registered for `cc`, by type then register order.
fn participants(cc: CommunityCeremony) -> Vec<Participant> {
    let mut out = Vec::new();
    type Register = fn(CommunityCeremony, u64) -> Option<AccountId>;
    let registers: [(ParticipantType, u64, Register); 4] = [
        (
            ParticipantType::Bootstrapper,
            EncointerCeremonies::bootstrapper_count(cc),
            EncointerCeremonies::bootstrapper_registry,
        ),
        (ParticipantType::Reputable, EncointerCeremonies::reputable_count(cc), EncointerCeremonies::reputable_registry),
        (ParticipantType::Endorsee, EncointerCeremonies::endorsee_count(cc), EncointerCeremonies::endorsee_registry),
        (ParticipantType::Newbie, EncointerCeremonies::newbie_count(cc), EncointerCeremonies::newbie_registry),
    ];
    for (participant_type, count, registry) in registers {
        for index in 1..=count {
            if let Some(account) = registry(cc, index) {
                out.push(Participant { participant_type, index, account });
            }
        }
    }
    out
}

/// The participants of meetup `index` (1-based) of `cc`, in the pallet's order (ENCOINTER.md
/// §3.7.4): bootstrappers and reputables, then endorsees, then newbies, each through the
/// inverse of the assignment function.
pub fn meetup_participants(cc: CommunityCeremony, index: MeetupIndexType) -> Vec<AccountId> {
    let count = EncointerCeremonies::meetup_count(cc);
    if index == 0 || index > count {
        return Vec::new();
    }
    let params = EncointerCeremonies::assignments(cc);
    let assigned = EncointerCeremonies::assignment_counts(cc);
    let mut out = Vec::new();
    let b = assigned.bootstrappers;
    for p in assignment_fn_inverse(index - 1, params.bootstrappers_reputables, count, b + assigned.reputables)
        .unwrap_or_default()
    {
        let found = if p < b {
            EncointerCeremonies::bootstrapper_registry(cc, p + 1)
        } else if p < b + assigned.reputables {
            EncointerCeremonies::reputable_registry(cc, p - b + 1)
        } else {
            None
        };
        out.extend(found);
    }
    for p in assignment_fn_inverse(index - 1, params.endorsees, count, assigned.endorsees).unwrap_or_default() {
        if p < assigned.endorsees {
            out.extend(EncointerCeremonies::endorsee_registry(cc, p + 1));
        }
    }
    for p in assignment_fn_inverse(index - 1, params.newbies, count, assigned.newbies).unwrap_or_default() {
        if p < assigned.newbies {
            out.extend(EncointerCeremonies::newbie_registry(cc, p + 1));
        }
    }
    out
}

/// When the meetups of the current ceremony begin at `location` (ENCOINTER.md §3.7.6, A.7):
/// from the mirrored start of Attesting and the location's longitude. Known once Assigning
/// has begun (Attesting starts at the next phase timestamp then).
fn current_meetup_time(location: Location) -> Option<u64> {
    let next = EncointerScheduler::next_phase_timestamp();
    let start = match EncointerScheduler::current_phase() {
        CeremonyPhaseType::Assigning => next,
        CeremonyPhaseType::Attesting => {
            next.checked_sub(EncointerScheduler::phase_durations(CeremonyPhaseType::Attesting))?
        }
        CeremonyPhaseType::Registering => return None,
    };
    Some(meetup_time(location, start, cloister_runtime::MOMENTS_PER_DAY, EncointerCeremonies::meetup_time_offset()))
}

/// Meetup `index` of `cc`, with the community's canonical `locations` (read once by the caller:
/// reading them walks every location cell of the community).
fn meetup_view(cc: CommunityCeremony, index: MeetupIndexType, locations: &[Location]) -> MeetupView {
    let params = EncointerCeremonies::assignments(cc).locations;
    let location = get_meetup_location_index(index, locations, params)
        .and_then(|i| usize::try_from(i).ok())
        .and_then(|i| locations.get(i).copied());
    let current = cc.1 == EncointerScheduler::current_ceremony_index();
    MeetupView {
        index,
        location,
        time: location.filter(|_| current).and_then(current_meetup_time),
        participants: meetup_participants(cc, index),
    }
}

fn ceremony_view(cid: CommunityIdentifier) -> CeremonyView {
    let cindex = EncointerScheduler::current_ceremony_index();
    let cc = (cid, cindex);
    CeremonyView {
        private: manager(&cid).is_some(),
        phase: EncointerScheduler::current_phase(),
        cindex,
        next_phase_timestamp: EncointerScheduler::next_phase_timestamp(),
        registered: [
            EncointerCeremonies::bootstrapper_count(cc),
            EncointerCeremonies::reputable_count(cc),
            EncointerCeremonies::endorsee_count(cc),
            EncointerCeremonies::newbie_count(cc),
        ],
        meetups: EncointerCeremonies::meetup_count(cc),
        attested: EncointerCeremonies::attestation_count(cc),
    }
}

/// The account's meetup in the current ceremony, if it is assigned to one.
fn own_meetup(cid: CommunityIdentifier, who: &AccountId) -> Option<OwnMeetup> {
    let cindex = EncointerScheduler::current_ceremony_index();
    // The pallet's own view of the account's meetup (the manager's lists use
    // [`meetup_participants`]; the tests hold the two to each other).
    let personal = EncointerCeremonies::get_aggregated_account_data(cid, who).personal?;
    let index = personal.meetup_index?;
    let location = EncointerCeremonies::get_meetup_location((cid, cindex), index);
    Some(OwnMeetup {
        cindex,
        index,
        location,
        time: location.and_then(current_meetup_time),
        participants: personal.meetup_registry.map_or(0, |r| u32::try_from(r.len()).unwrap_or(u32::MAX)),
    })
}

/// Answers `getter` for its signer, whose signature the caller checked, with the System block
/// number at `parentchain_number` (so that balances show the demurrage up to now). Runs inside
/// read-only externalities.
pub fn answer(getter: TrustedGetter, parentchain_number: u64) -> Result<Vec<u8>, StfError> {
    crate::runtime::System::set_block_number(parentchain_number);
    let authorize = |who: &AccountId, cid: &CommunityIdentifier| -> Result<(), StfError> {
        if manager(cid).as_ref() == Some(who) {
            Ok(())
        } else {
            Err(StfError::NotAuthorized)
        }
    };
    let current = |cindex: Option<CeremonyIndexType>| cindex.unwrap_or_else(EncointerScheduler::current_ceremony_index);
    Ok(match getter {
        TrustedGetter::Balance(_) | TrustedGetter::Nonce(_) => {
            return Err(StfError::State("not a community getter".into()));
        }
        TrustedGetter::CcBalance(who, cid) => EncointerBalances::balance(cid, &who).encode(),
        TrustedGetter::Registration(who, cid) => {
            let cindex = registration_cindex();
            RegistrationView {
                phase: EncointerScheduler::current_phase(),
                cindex,
                participant_type: participant_type((cid, cindex), &who).map(|(t, _)| t),
            }
            .encode()
        }
        TrustedGetter::Meetup(who, cid) => own_meetup(cid, &who).encode(),
        TrustedGetter::Reputation(who, cid) => {
            let last = EncointerScheduler::current_ceremony_index();
            let reputations: Vec<(CeremonyIndexType, Reputation)> = (1..=last)
                .map(|cindex| (cindex, EncointerCeremonies::participant_reputation((cid, cindex), &who)))
                .filter(|(_, rep)| *rep != Reputation::Unverified)
                .collect();
            reputations.encode()
        }
        TrustedGetter::Ceremony(_, cid) => ceremony_view(cid).encode(),
        TrustedGetter::ListParticipants(who, cid, cindex) => {
            authorize(&who, &cid)?;
            participants((cid, current(cindex))).encode()
        }
        TrustedGetter::ListMeetups(who, cid, cindex) => {
            authorize(&who, &cid)?;
            let cc = (cid, current(cindex));
            let locations = EncointerCommunities::get_locations(&cid);
            let meetups: Vec<MeetupView> =
                (1..=EncointerCeremonies::meetup_count(cc)).map(|index| meetup_view(cc, index, &locations)).collect();
            meetups.encode()
        }
        TrustedGetter::ListAttestees(who, cid, cindex) => {
            authorize(&who, &cid)?;
            let cc = (cid, current(cindex));
            let mut out = Vec::new();
            for participant in participants(cc) {
                let index = EncointerCeremonies::attestation_index(cc, &participant.account);
                if index == 0 {
                    continue;
                }
                out.push(Attestations {
                    vote: EncointerCeremonies::meetup_participant_count_vote(cc, &participant.account),
                    attestees: EncointerCeremonies::attestation_registry(cc, index)
                        .map(|v| v.to_vec())
                        .unwrap_or_default(),
                    attester: participant.account,
                });
            }
            out.encode()
        }
        TrustedGetter::CommunityInfo(who, cid) => {
            authorize(&who, &cid)?;
            CommunityInfo {
                cid,
                metadata: EncointerCommunities::community_metadata(cid),
                manager: who,
                bootstrappers: EncointerCommunities::bootstrappers(cid).to_vec(),
                locations: EncointerCommunities::get_locations(&cid),
                nominal_income: EncointerCeremonies::nominal_income(&cid),
                demurrage: EncointerBalances::demurrage_per_block(cid),
                total_issuance: EncointerBalances::total_issuance(cid),
                ceremony: ceremony_view(cid),
            }
            .encode()
        }
    })
}

/// Dispatches an encointer trusted call for its signer. Calls that change a community's
/// membership work only for a private community of this shard (the pallets know no other).
pub fn dispatch(call: &crate::TrustedCall, public: Option<&PublicCommunity>) -> Result<(), String> {
    use crate::TrustedCall as C;
    use pallet_encointer_ceremonies::Call as Ceremonies;
    let signed =
        |who: &AccountId| -> crate::runtime::RuntimeOrigin { frame_system::RawOrigin::Signed(who.clone()).into() };
    let (origin, call) = match call {
        C::MakeCommunityPrivate { who, cid, .. } => {
            let public = public.ok_or("the public community was not read")?;
            if public.cid != *cid {
                return Err("the proof is of another community".into());
            }
            return make_private(who, public);
        }
        C::RegisterParticipant { who, cid, proof } => (
            signed(who),
            RuntimeCall::EncointerCeremonies(Ceremonies::register_participant { cid: *cid, proof: proof.clone() }),
        ),
        C::UpgradeRegistration { who, cid, proof } => (
            signed(who),
            RuntimeCall::EncointerCeremonies(Ceremonies::upgrade_registration { cid: *cid, proof: proof.clone() }),
        ),
        C::UnregisterParticipant { who, cid, reputation } => (
            signed(who),
            RuntimeCall::EncointerCeremonies(Ceremonies::unregister_participant {
                cid: *cid,
                maybe_reputation_community_ceremony: *reputation,
            }),
        ),
        C::EndorseNewcomer { who, cid, newbie } => (
            signed(who),
            RuntimeCall::EncointerCeremonies(Ceremonies::endorse_newcomer { cid: *cid, newbie: newbie.clone() }),
        ),
        C::AttestAttendees { who, cid, vote, attestees } => {
            // Duplicates would inflate the attester's outgoing count (ENCOINTER.md §8.2).
            let mut unique: Vec<AccountId> = Vec::with_capacity(attestees.len());
            for a in attestees {
                if !unique.contains(a) {
                    unique.push(a.clone());
                }
            }
            let attestations = unique.try_into().map_err(|_| "too many attestations".to_string())?;
            (
                signed(who),
                RuntimeCall::EncointerCeremonies(Ceremonies::attest_attendees {
                    cid: *cid,
                    number_of_participants_vote: *vote,
                    attestations,
                }),
            )
        }
        C::ClaimRewards { who, cid, meetup } => (
            signed(who),
            RuntimeCall::EncointerCeremonies(Ceremonies::claim_rewards { cid: *cid, maybe_meetup_index: *meetup }),
        ),
        C::CcTransfer { from, to, cid, amount } => (
            signed(from),
            RuntimeCall::EncointerBalances(pallet_encointer_balances::Call::transfer {
                dest: to.clone(),
                community_id: *cid,
                amount: *amount,
            }),
        ),
        C::Transfer { .. } | C::Unshield { .. } => return Err("not a community call".into()),
    };
    call.dispatch(origin).map(|_| ()).map_err(|e| describe(e.error))
}
