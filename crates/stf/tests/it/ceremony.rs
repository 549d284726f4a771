//! Private Encointer ceremonies through the STF, driven as the enclave drives it: phase changes
//! and mirrored scheduler values as parentchain effects, a public community made private from
//! its (proven) record, and trusted calls and getters signed by the participants.

use cloister_primitives::{AccountId, Mrenclave, ShardId};
use cloister_stf::{
    encointer::{
        public_community_keys, CeremonyView, CommunityInfo, MeetupView, OwnMeetup, Participant, PublicCommunity,
        RegistrationView,
    },
    executor::{execute_block, execute_getter, ParentchainEffect},
    BlockInput, OpOutcome, ShardState, StfError, TrustedCall, TrustedGetter,
};
use codec::{Decode, Encode};
use encointer_primitives::{
    balances::BalanceType,
    ceremonies::{ParticipantType, Reputation},
    common::PalletString,
    communities::{CommunityIdentifier, CommunityMetadata, CommunityRules, Degree, GeoHash, Location},
    scheduler::CeremonyPhaseType,
};
use sp_core::{sr25519, Pair};
use std::collections::{BTreeMap, BTreeSet, HashMap};

const MRENCLAVE: Mrenclave = Mrenclave([9; 32]);
/// Milliseconds of each phase on the mirrored parentchain.
const PHASE_MS: u64 = 3_600_000;
const NOW_MS: u64 = 1_000_000;

fn shard() -> ShardId {
    ShardId::repeat_byte(9)
}

fn key(name: &str) -> sr25519::Pair {
    sr25519::Pair::from_string(&format!("//{name}"), None).expect("a dev key")
}

fn id(pair: &sr25519::Pair) -> AccountId {
    AccountId::from(pair.public())
}

/// A shard and the parentchain it follows, as the enclave feeds it.
struct Shard {
    state: ShardState,
    number: u64,
    parentchain: u32,
    cindex: u32,
    phase: CeremonyPhaseType,
    nonces: HashMap<AccountId, u32>,
}

impl Shard {
    fn new() -> Self {
        let mut shard = Self {
            state: ShardState::empty(),
            number: 0,
            parentchain: 10,
            cindex: 1,
            phase: CeremonyPhaseType::Registering,
            nonces: HashMap::new(),
        };
        let mirror = shard.scheduler_values();
        shard.block(vec![ParentchainEffect::Mirror(mirror)], vec![]);
        shard
    }

    /// The parentchain scheduler's values as a verified proof would give them.
    fn scheduler_values(&self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let keys = cloister_stf::encointer::scheduler_keys();
        let next_phase = 1_700_000_000_000u64 + u64::from(self.parentchain) * 1_000;
        let values = [
            self.phase.encode(),
            self.cindex.encode(),
            next_phase.encode(),
            PHASE_MS.encode(),
            PHASE_MS.encode(),
            PHASE_MS.encode(),
        ];
        keys.into_iter().zip(values).map(|(k, v)| (k, Some(v))).collect()
    }

    fn block(&mut self, effects: Vec<ParentchainEffect>, calls: Vec<cloister_stf::VerifiedCall>) -> Vec<OpOutcome> {
        self.number += 1;
        self.parentchain += 1;
        let input = BlockInput {
            number: self.number,
            mrenclave: MRENCLAVE,
            shard: shard(),
            parentchain_head: None,
            parentchain_number: self.parentchain,
            light_client: None,
            effects,
            calls,
        };
        let pending = execute_block(&self.state, input).expect("execute");
        self.state.commit(pending).expect("commit").outcomes
    }

    /// The parentchain moves to the next phase.
    fn next_phase(&mut self) {
        self.phase = match self.phase {
            CeremonyPhaseType::Registering => CeremonyPhaseType::Assigning,
            CeremonyPhaseType::Assigning => CeremonyPhaseType::Attesting,
            CeremonyPhaseType::Attesting => {
                self.cindex += 1;
                CeremonyPhaseType::Registering
            }
        };
        let effects =
            vec![ParentchainEffect::PhaseChanged(self.phase), ParentchainEffect::Mirror(self.scheduler_values())];
        self.block(effects, vec![]);
    }

    fn sign(&mut self, who: &sr25519::Pair, call: TrustedCall) -> cloister_stf::VerifiedCall {
        let nonce = self.nonces.entry(id(who)).or_default();
        let signed = call.sign(*nonce, &MRENCLAVE, &shard(), |p| who.sign(p).into());
        *nonce += 1;
        signed.verify(&MRENCLAVE, &shard()).expect("a good signature")
    }

    /// Applies calls in one block; returns each call's runtime result.
    fn calls(&mut self, calls: Vec<(&sr25519::Pair, TrustedCall)>) -> Vec<Result<(), String>> {
        let verified = calls.into_iter().map(|(who, call)| self.sign(who, call)).collect();
        self.block(vec![], verified)
            .into_iter()
            .map(|outcome| match outcome {
                OpOutcome::Included { result, .. } => result,
                OpOutcome::Rejected { reason, .. } => panic!("a call was rejected: {reason}"),
            })
            .collect()
    }

    fn call(&mut self, who: &sr25519::Pair, call: TrustedCall) -> Result<(), String> {
        self.calls(vec![(who, call)]).remove(0)
    }

    fn get<T: Decode>(&self, who: &sr25519::Pair, getter: TrustedGetter) -> Result<T, StfError> {
        self.get_at(who, getter, self.parentchain)
    }

    fn get_at<T: Decode>(&self, who: &sr25519::Pair, getter: TrustedGetter, parentchain: u32) -> Result<T, StfError> {
        let signed = getter.sign(NOW_MS, &MRENCLAVE, &shard(), |p| who.sign(p).into());
        let bytes = execute_getter(&self.state, &signed, NOW_MS, parentchain, &MRENCLAVE, &shard())?;
        Ok(T::decode(&mut &bytes[..]).expect("the getter's type"))
    }
}

fn loc(lat: f64, lon: f64) -> Location {
    Location::new(Degree::from_num(lat), Degree::from_num(lon))
}

fn cell(location: &Location) -> GeoHash {
    GeoHash::try_from_params(location.lat, location.lon).expect("a valid location")
}

/// A public community as the enclave reads it through a verified proof of its keys.
fn public_community(bootstrappers: &[AccountId], locations: &[Location], sudo: &AccountId) -> PublicCommunity {
    let cid = CommunityIdentifier::new(locations[0], bootstrappers.to_vec()).expect("a cid");
    let cells: Vec<GeoHash> = locations.iter().map(cell).collect::<BTreeSet<_>>().into_iter().collect();
    let metadata = CommunityMetadata {
        name: PalletString::try_from(b"Private Test".to_vec()).expect("short"),
        symbol: PalletString::try_from(b"PRT".to_vec()).expect("short"),
        assets: PalletString::try_from(b"QmW6WLLhUPsosBcKebejveknjrSQjZjq5eYFVBRfugygeC".to_vec()).expect("short"),
        theme: None,
        url: None,
        announcement_signer: None,
        rules: CommunityRules::LoCo,
    };
    let mut values: Vec<Option<Vec<u8>>> = vec![
        Some(metadata.encode()),
        Some(bootstrappers.to_vec().encode()),
        Some(BalanceType::from_num(1).encode()),
        None,
        Some(sudo.encode()),
        Some(BalanceType::from_num(1).encode()), // CeremonyReward
        Some(1_000u32.encode()),                 // LocationTolerance
        Some(600_000u64.encode()),               // TimeTolerance
        Some(100u32.encode()),                   // InactivityTimeout
        Some(10u8.encode()),                     // EndorsementTicketsPerBootstrapper
        Some(5u8.encode()),                      // EndorsementTicketsPerReputable
        Some(5u32.encode()),                     // ReputationLifetime
        Some(0i32.encode()),                     // MeetupTimeOffset
        Some(1u32.encode()),                     // MinSolarTripTimeS
        Some(83u32.encode()),                    // MaxSpeedMps
    ];
    for c in &cells {
        let in_cell: Vec<Location> = locations.iter().filter(|l| cell(l) == *c).copied().collect();
        values.push(Some(in_cell.encode()));
    }
    let keys = public_community_keys(&cid, &cells);
    PublicCommunity::from_proven(cid, &cells, keys.into_iter().zip(values).collect()).expect("a record")
}

fn make_private(shard: &mut Shard, manager: &sr25519::Pair, public: PublicCommunity) -> Result<(), String> {
    let call = TrustedCall::MakeCommunityPrivate {
        who: id(manager),
        cid: public.cid,
        at: Default::default(),
        cells: vec![],
        proof: vec![],
    };
    let verified = shard.sign(manager, call).with_public_community(public);
    match shard.block(vec![], vec![verified]).remove(0) {
        OpOutcome::Included { result, .. } => result,
        OpOutcome::Rejected { reason, .. } => panic!("rejected: {reason}"),
    }
}

fn register(cid: CommunityIdentifier, who: &sr25519::Pair) -> TrustedCall {
    TrustedCall::RegisterParticipant { who: id(who), cid, proof: None }
}

fn cc_balance(shard: &Shard, who: &sr25519::Pair, cid: CommunityIdentifier) -> f64 {
    shard.get::<BalanceType>(who, TrustedGetter::CcBalance(id(who), cid)).expect("own balance").to_num::<f64>()
}

/// Four cities far enough apart to be distinct meetup locations.
fn locations() -> Vec<Location> {
    vec![loc(47.3769, 8.5417), loc(46.948, 7.4474), loc(46.2044, 6.1432), loc(47.5596, 7.5886)]
}

/// Bootstrapping ceremony: three bootstrappers meet, attest each other and are paid, so that
/// the community's currency exists and others may register.
fn bootstrapped() -> (Shard, CommunityIdentifier, [sr25519::Pair; 3]) {
    let mut shard = Shard::new();
    let boot = [key("Alice"), key("Bob"), key("Charlie")];
    let ids: Vec<AccountId> = boot.iter().map(id).collect();
    let public = public_community(&ids, &locations(), &id(&boot[0]));
    let cid = public.cid;
    make_private(&mut shard, &boot[0], public).expect("the sudo key makes it private");
    let results = shard.calls(boot.iter().map(|b| (b, register(cid, b))).collect());
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    shard.next_phase();
    shard.next_phase();
    for (i, b) in boot.iter().enumerate() {
        let others = ids.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, a)| a.clone()).collect();
        shard.call(b, TrustedCall::AttestAttendees { who: id(b), cid, vote: 3, attestees: others }).expect("attest");
    }
    shard.call(&boot[1], TrustedCall::ClaimRewards { who: id(&boot[1]), cid, meetup: None }).expect("claim");
    shard.next_phase();
    (shard, cid, boot)
}

#[test]
fn only_an_authorized_account_makes_a_community_private_and_only_once() {
    let mut shard = Shard::new();
    let boot = [key("Alice"), key("Bob"), key("Charlie")];
    let ids: Vec<AccountId> = boot.iter().map(id).collect();
    let sudo = key("Ferdie");
    let public = public_community(&ids, &locations(), &id(&sudo));
    let cid = public.cid;

    let stranger = key("Eve");
    let refused = make_private(&mut shard, &stranger, public.clone());
    assert!(refused.as_ref().is_err_and(|e| e.contains("not authorized")), "{refused:?}");
    let view: CeremonyView = shard.get(&stranger, TrustedGetter::Ceremony(id(&stranger), cid)).expect("public");
    assert!(!view.private, "a refused call changes nothing");

    // A bootstrapper may; the second attempt is refused.
    make_private(&mut shard, &boot[1], public.clone()).expect("a bootstrapper makes it private");
    let again = make_private(&mut shard, &sudo, public);
    assert!(again.as_ref().is_err_and(|e| e.contains("already private")), "{again:?}");

    let info: CommunityInfo = shard.get(&boot[1], TrustedGetter::CommunityInfo(id(&boot[1]), cid)).expect("manager");
    assert_eq!(info.cid, cid);
    assert_eq!(info.manager, id(&boot[1]));
    assert_eq!(info.bootstrappers, ids);
    assert_eq!(info.locations.len(), 4, "every proven location is a meetup place");
    assert_eq!(info.nominal_income, BalanceType::from_num(1));
    assert_eq!(info.ceremony.phase, CeremonyPhaseType::Registering);
    assert_eq!(info.ceremony.cindex, 1);
    assert_eq!(
        shard.get::<CommunityInfo>(&sudo, TrustedGetter::CommunityInfo(id(&sudo), cid)),
        Err(StfError::NotAuthorized),
        "the sudo key is not this community's manager"
    );
}

#[test]
fn a_newbie_waits_for_the_first_ceremony_and_rewards_follow_the_rules() {
    let mut shard = Shard::new();
    let boot = [key("Alice"), key("Bob"), key("Charlie")];
    let ids: Vec<AccountId> = boot.iter().map(id).collect();
    let public = public_community(&ids, &locations(), &id(&boot[0]));
    let cid = public.cid;
    make_private(&mut shard, &boot[0], public).expect("private");

    // No currency yet: only bootstrappers register (ENCOINTER.md §3.3 step 4).
    let cora = key("Cora");
    assert_eq!(shard.call(&cora, register(cid, &cora)), Err("OnlyBootstrappers".to_string()));
    let view: RegistrationView = shard.get(&cora, TrustedGetter::Registration(id(&cora), cid)).expect("own");
    assert_eq!(view.participant_type, None, "the refused registration left nothing");

    drop(shard);
    let (mut shard, cid, boot) = bootstrapped();
    for b in &boot {
        assert!((cc_balance(&shard, b, cid) - 1.0).abs() < 1e-4, "each bootstrapper earned the nominal income");
        let reputation: Vec<(u32, Reputation)> = shard.get(b, TrustedGetter::Reputation(id(b), cid)).expect("own");
        assert_eq!(reputation, vec![(1, Reputation::VerifiedUnlinked)]);
    }
    assert_eq!(cc_balance(&shard, &cora, cid), 0.0);

    // Ceremony 2: Cora may register now, as a newbie.
    shard.call(&cora, register(cid, &cora)).expect("a newbie registers once there is currency");
    let view: RegistrationView = shard.get(&cora, TrustedGetter::Registration(id(&cora), cid)).expect("own");
    assert_eq!((view.cindex, view.participant_type), (2, Some(ParticipantType::Newbie)));

    // Demurrage: the same balance read later (by parentchain block) is lower.
    let now = shard.get::<BalanceType>(&boot[1], TrustedGetter::CcBalance(id(&boot[1]), cid)).expect("own");
    let later = shard
        .get_at::<BalanceType>(&boot[1], TrustedGetter::CcBalance(id(&boot[1]), cid), shard.parentchain + 100_000)
        .expect("own");
    assert!(later < now, "demurrage over 100000 blocks: {now} -> {later}");

    // Community currency moves between accounts, the newbie needing no native account.
    shard
        .call(
            &boot[1],
            TrustedCall::CcTransfer { from: id(&boot[1]), to: id(&cora), cid, amount: BalanceType::from_num(0.25) },
        )
        .expect("transfer");
    assert!((cc_balance(&shard, &cora, cid) - 0.25).abs() < 1e-6);
    let too_much = shard.call(
        &cora,
        TrustedCall::CcTransfer { from: id(&cora), to: id(&boot[1]), cid, amount: BalanceType::from_num(5) },
    );
    assert_eq!(too_much, Err("BalanceTooLow".to_string()));
}

#[test]
fn a_ceremony_of_many_follows_the_assignment_rules_and_a_disagreeing_meetup_is_not_rewarded() {
    let (mut shard, cid, boot) = bootstrapped();
    let manager = &boot[0];
    // 27 endorsees (10 tickets per bootstrapper), then 20 newbies: 50 registrations.
    let endorsees: Vec<sr25519::Pair> = (0..27).map(|i| key(&format!("Endorsee{i}"))).collect();
    let newbies: Vec<sr25519::Pair> = (0..20).map(|i| key(&format!("Newbie{i}"))).collect();
    let endorse: Vec<_> = endorsees
        .iter()
        .enumerate()
        .map(|(i, e)| (&boot[i % 3], TrustedCall::EndorseNewcomer { who: id(&boot[i % 3]), cid, newbie: id(e) }))
        .collect();
    assert!(shard.calls(endorse).iter().all(Result::is_ok));
    let mut registrations: Vec<_> = boot.iter().map(|b| (b, register(cid, b))).collect();
    registrations.extend(endorsees.iter().map(|e| (e, register(cid, e))));
    registrations.extend(newbies.iter().map(|n| (n, register(cid, n))));
    let results = shard.calls(registrations);
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    let listed: Vec<Participant> =
        shard.get(manager, TrustedGetter::ListParticipants(id(manager), cid, None)).expect("manager");
    let count = |t: ParticipantType| listed.iter().filter(|p| p.participant_type == t).count();
    assert_eq!(
        [count(ParticipantType::Bootstrapper), count(ParticipantType::Endorsee), count(ParticipantType::Newbie)],
        [3, 27, 20]
    );
    for asker in [&boot[1], &endorsees[0], &newbies[0]] {
        assert_eq!(
            shard.get::<Vec<Participant>>(asker, TrustedGetter::ListParticipants(id(asker), cid, None)),
            Err(StfError::NotAuthorized)
        );
        assert_eq!(
            shard.get::<Vec<MeetupView>>(asker, TrustedGetter::ListMeetups(id(asker), cid, None)),
            Err(StfError::NotAuthorized)
        );
    }

    shard.next_phase(); // Assigning: meetups assigned inside the STF.
    let meetups: Vec<MeetupView> =
        shard.get(manager, TrustedGetter::ListMeetups(id(manager), cid, None)).expect("manager");

    // ENCOINTER.md §3.7.1: L = 4 locations, B + R = 3, so max_meetups = min(4, P(3) = 3) = 3;
    // seats = 3 * 15 - 3 = 42: all 27 endorsees, then newbies up to
    // min(20, 42 - 27, (3 + 27) / 2) = 15, first come first served; 45 seats in ⌈45/15⌉ = 3 meetups.
    assert_eq!(meetups.len(), 3);
    let mut seen = BTreeMap::new();
    for meetup in &meetups {
        assert!(meetup.participants.len() >= 3, "a meetup has at least MeetupMinSize participants");
        assert!(meetup.location.is_some() && meetup.time.is_some(), "each meetup has a place and a time");
        for p in &meetup.participants {
            assert!(seen.insert(p.clone(), meetup.index).is_none(), "nobody is in two meetups");
        }
    }
    let places: BTreeSet<_> = meetups.iter().map(|m| m.location.map(|l| (l.lat, l.lon))).collect();
    assert_eq!(places.len(), 3, "distinct meetups meet at distinct places");
    assert_eq!(seen.len(), 45);
    for b in boot.iter().map(id).chain(endorsees.iter().map(id)) {
        assert!(seen.contains_key(&b), "every bootstrapper and endorsee has a seat");
    }
    let seated: Vec<bool> = newbies.iter().map(|n| seen.contains_key(&id(n))).collect();
    assert_eq!(seated, (0..20).map(|i| i < 15).collect::<Vec<_>>(), "the first 15 newbies, in order");
    for meetup in &meetups {
        let newbies_here = meetup.participants.iter().filter(|p| newbies.iter().any(|n| id(n) == **p)).count();
        let others = meetup.participants.len() - newbies_here;
        assert!(newbies_here <= others, "newbies never outnumber the others of a meetup: {newbies_here}/{others}");
    }

    // A participant sees its own meetup (where, when, how many), never who.
    let someone = &newbies[0];
    let own: Option<OwnMeetup> = shard.get(someone, TrustedGetter::Meetup(id(someone), cid)).expect("own");
    let own = own.expect("assigned");
    let theirs = meetups.iter().find(|m| m.index == own.index).expect("listed");
    assert_eq!((own.location, own.time), (theirs.location, theirs.time));
    assert_eq!(own.participants as usize, theirs.participants.len());
    let unseated = &newbies[19];
    assert_eq!(shard.get::<Option<OwnMeetup>>(unseated, TrustedGetter::Meetup(id(unseated), cid)), Ok(None));

    shard.next_phase(); // Attesting.
    let pair_of = |account: &AccountId| -> &sr25519::Pair {
        boot.iter().chain(&endorsees).chain(&newbies).find(|p| id(p) == *account).expect("a participant")
    };
    let (agreeing, disagreeing) = (&meetups[0], &meetups[1]);
    let mut attestations = Vec::new();
    for p in &agreeing.participants {
        let others: Vec<AccountId> = agreeing.participants.iter().filter(|q| *q != p).cloned().collect();
        let vote = agreeing.participants.len() as u32;
        attestations.push((pair_of(p), TrustedCall::AttestAttendees { who: p.clone(), cid, vote, attestees: others }));
    }
    for (i, p) in disagreeing.participants.iter().enumerate() {
        let others: Vec<AccountId> = disagreeing.participants.iter().filter(|q| *q != p).cloned().collect();
        // Nobody agrees with more than one other on how many were there.
        let vote = disagreeing.participants.len() as u32 - (i as u32 % 8);
        attestations.push((pair_of(p), TrustedCall::AttestAttendees { who: p.clone(), cid, vote, attestees: others }));
    }
    let results = shard.calls(attestations);
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    let claimer_ok = pair_of(&agreeing.participants[0]);
    let claimer_bad = pair_of(&disagreeing.participants[0]);
    let before: Vec<f64> = disagreeing.participants.iter().map(|p| cc_balance(&shard, pair_of(p), cid)).collect();
    shard
        .call(claimer_ok, TrustedCall::ClaimRewards { who: id(claimer_ok), cid, meetup: None })
        .expect("a unanimous, fully attested meetup is paid early");
    assert_eq!(
        shard.call(claimer_bad, TrustedCall::ClaimRewards { who: id(claimer_bad), cid, meetup: None }),
        Err("VotesNotDependable".to_string())
    );
    shard.next_phase(); // Registering of ceremony 3: the claim is judged for good.
    shard
        .call(claimer_bad, TrustedCall::ClaimRewards { who: id(claimer_bad), cid, meetup: Some(disagreeing.index) })
        .expect("a final judgement is recorded");
    assert_eq!(
        shard.call(
            claimer_bad,
            TrustedCall::ClaimRewards { who: id(claimer_bad), cid, meetup: Some(disagreeing.index) }
        ),
        Err("RewardsAlreadyIssued".to_string())
    );

    for p in &agreeing.participants {
        let had = if boot.iter().any(|b| id(b) == *p) { 1.0 } else { 0.0 };
        let balance = cc_balance(&shard, pair_of(p), cid);
        assert!((balance - had - 1.0).abs() < 1e-3, "{p}: {balance}");
        let reputation: Vec<(u32, Reputation)> =
            shard.get(pair_of(p), TrustedGetter::Reputation(id(pair_of(p)), cid)).expect("own");
        assert!(reputation.contains(&(2, Reputation::VerifiedUnlinked)));
    }
    for (p, before) in disagreeing.participants.iter().zip(before) {
        let balance = cc_balance(&shard, pair_of(p), cid);
        assert!(balance <= before, "the disagreeing meetup was not rewarded: {p}: {before} -> {balance}");
        let reputation: Vec<(u32, Reputation)> =
            shard.get(pair_of(p), TrustedGetter::Reputation(id(pair_of(p)), cid)).expect("own");
        assert!(!reputation.iter().any(|(c, _)| *c == 2), "no reputation for ceremony 2: {reputation:?}");
    }
}
