//! The sidechain of one shard as this enclave knows it above its last final block: the
//! canonical blocks it can still revert, the other blocks it has seen, fork choice and
//! equivocation (ARCHITECTURE.md 6.9).
//!
//! ```text
//!   final ── b(n-2) ── b(n-1) ── b(n)  ◄ head        recent: canonical, each with its undo diff
//!              └────── s(n-1) ── s(n) ── s(n+1)       side: seen, not applied
//! ```
//!
//! Fork choice is explicit: the longest chain wins; at equal length, the lowest hash. A chain
//! that leaves out the block anchored on the parentchain, or contains a refused block, never
//! wins. Only the last [`MAX_REORG`] blocks can be reverted: below them the chain is final for
//! this enclave. An author that signs two blocks for one slot is caught here: from that slot on
//! its blocks are refused, on every branch.
//!
//! This module only keeps the books; the engine applies and reverts states.

use cloister_primitives::{
    sidechain::{SidechainHeader, SignedSidechainBlock},
    Hash,
};
use cloister_stf::{StateDiff, VerifiedCall};
use std::collections::{HashMap, HashSet, VecDeque};

/// How many canonical blocks can be reverted by a reorganisation.
pub const MAX_REORG: usize = 16;
/// Most side blocks kept.
pub const MAX_SIDE: usize = 512;

/// A canonical block that can still be reverted.
pub struct Applied {
    /// The block.
    pub block: SignedSidechainBlock,
    /// The values its keys had before it (`None`: absent), to revert it.
    pub undo: StateDiff,
    /// The calls it applied that this enclave holds, to put back in the pool if it is reverted.
    pub calls: Vec<VerifiedCall>,
}

/// Why a block is refused before anything is checked against a state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// It was checked before and failed.
    Bad,
    /// Its author signed two blocks for one slot at or before its slot.
    Banned,
    /// It is at or below the final block.
    Final,
}

/// The books of one shard's sidechain.
#[derive(Default)]
pub struct Chain {
    /// Canonical blocks that can still be reverted, oldest first; the last is the head.
    pub recent: VecDeque<Applied>,
    /// The final block just below `recent` (or the head when `recent` is empty).
    pub base: Option<SidechainHeader>,
    side: HashMap<Hash, SignedSidechainBlock>,
    /// Which block each author signed for each slot, above the final block.
    signed: HashMap<([u8; 32], u64), Hash>,
    /// Authors caught signing two blocks for one slot: refused from that slot on.
    banned: HashMap<[u8; 32], u64>,
    bad: HashSet<Hash>,
}

impl Chain {
    /// The head: the last recent block, else the base.
    pub fn head(&self) -> Option<&SidechainHeader> {
        self.recent.back().map(|a| &a.block.header).or(self.base.as_ref())
    }

    /// Starts from `head` (as the snapshot or the replay left it) with nothing revertible.
    pub fn reset(&mut self, head: Option<SidechainHeader>) {
        self.recent.clear();
        self.side.clear();
        self.signed.clear();
        self.base = head;
    }

    /// The number of the final block (0 before any).
    pub fn final_number(&self) -> u64 {
        self.recent.front().map(|a| a.block.header.number - 1).or(self.base.as_ref().map(|h| h.number)).unwrap_or(0)
    }

    /// Whether a block with this hash is known (canonical or side).
    pub fn contains(&self, hash: &Hash) -> bool {
        self.side.contains_key(hash)
            || self.recent.iter().any(|a| a.block.hash() == *hash)
            || self.base.as_ref().is_some_and(|b| b.hash() == *hash)
    }

    /// Whether this block was refused.
    pub fn is_bad(&self, hash: &Hash) -> bool {
        self.bad.contains(hash)
    }

    /// A side block by hash.
    pub fn side_block(&self, hash: &Hash) -> Option<&SignedSidechainBlock> {
        self.side.get(hash)
    }

    /// Any known block by hash (canonical revertible or side).
    pub fn block(&self, hash: &Hash) -> Option<&SignedSidechainBlock> {
        self.side.get(hash).or_else(|| self.recent.iter().map(|a| &a.block).find(|b| b.hash() == *hash))
    }

    /// Why `header` is refused out of hand, if it is.
    pub fn refusal(&self, header: &SidechainHeader) -> Option<Refusal> {
        let hash = header.hash();
        if self.bad.contains(&hash) {
            return Some(Refusal::Bad);
        }
        if self.banned.get(&header.author).is_some_and(|from| header.slot >= *from) {
            return Some(Refusal::Banned);
        }
        if header.number <= self.final_number() {
            return Some(Refusal::Final);
        }
        None
    }

    /// Notes that `header`'s author signed it for its slot; returns the other block the author
    /// signed for the same slot, if there is one (an equivocation).
    pub fn note_signed(&mut self, header: &SidechainHeader) -> Option<Hash> {
        let hash = header.hash();
        match self.signed.insert((header.author, header.slot), hash) {
            Some(other) if other != hash => {
                // Keep the first one noted, so that both stay evidence.
                self.signed.insert((header.author, header.slot), other);
                Some(other)
            }
            _ => None,
        }
    }

    /// Whether the block with this hash is refused (failed, or its author equivocated).
    pub fn refuses(&self, hash: &Hash) -> bool {
        self.bad.contains(hash) || self.block(hash).is_some_and(|b| self.refusal(&b.header).is_some())
    }

    /// Refuses every block of `author` from `slot` on.
    pub fn ban(&mut self, author: [u8; 32], slot: u64) {
        let from = self.banned.entry(author).or_insert(slot);
        *from = (*from).min(slot);
    }

    /// Whether `author` is banned.
    pub fn is_banned(&self, author: &[u8; 32]) -> bool {
        self.banned.contains_key(author)
    }

    /// Marks a block as failed.
    pub fn mark_bad(&mut self, hash: Hash) {
        self.side.remove(&hash);
        self.bad.insert(hash);
    }

    /// Refuses a block from now on, without dropping it (it stays evidence, and a canonical one
    /// is reverted by the next fork choice).
    pub fn mark_refused(&mut self, hash: Hash) {
        self.bad.insert(hash);
    }

    /// Keeps a block not (or no longer) on the canonical chain.
    pub fn add_side(&mut self, block: SignedSidechainBlock) {
        if self.side.len() >= MAX_SIDE {
            // The lowest first: the least likely to matter.
            if let Some(lowest) = self.side.iter().min_by_key(|(_, b)| b.header.number).map(|(h, _)| *h) {
                self.side.remove(&lowest);
            }
        }
        self.side.insert(block.hash(), block);
    }

    /// Takes a side block out (it becomes canonical).
    pub fn take_side(&mut self, hash: &Hash) -> Option<SignedSidechainBlock> {
        self.side.remove(hash)
    }

    /// Whether the parent of `header` is known (canonical, base or side).
    pub fn knows_parent(&self, header: &SidechainHeader) -> bool {
        if header.number == 1 {
            return self.base.is_none() && self.recent.is_empty();
        }
        self.contains(&header.parent_hash)
    }

    /// Adds a canonical block on top; what falls below the revertible window becomes final.
    pub fn push(&mut self, applied: Applied) {
        self.recent.push_back(applied);
        while self.recent.len() > MAX_REORG {
            if let Some(old) = self.recent.pop_front() {
                self.base = Some(old.block.header);
            }
        }
        let final_number = self.final_number();
        self.side.retain(|_, b| b.header.number > final_number);
        if self.signed.len() > 4 * MAX_SIDE {
            // Only slots above the final block matter; the oldest go first.
            let mut slots: Vec<u64> = self.signed.keys().map(|(_, s)| *s).collect();
            slots.sort_unstable();
            let cut = slots[slots.len() - 2 * MAX_SIDE];
            self.signed.retain(|(_, s), _| *s >= cut);
        }
    }

    /// The canonical block on top, taken off (to revert it).
    pub fn pop(&mut self) -> Option<Applied> {
        self.recent.pop_back()
    }

    fn canonical_position(&self, hash: &Hash) -> Option<usize> {
        self.recent.iter().position(|a| a.block.hash() == *hash)
    }

    /// Whether the chain ending at `tip` is acceptable: every block above the final one is
    /// neither bad nor banned, and it holds `anchored` if that is above the final block.
    /// Returns the side blocks from where the chain leaves the canonical one up to `tip`, and
    /// the number of the last canonical block they build on.
    fn path(&self, tip: &Hash, anchored: Option<(u64, Hash)>) -> Option<(u64, Vec<Hash>)> {
        let final_number = self.final_number();
        let mut side_path = Vec::new();
        let mut cursor = *tip;
        let mut holds_anchor = anchored.is_none_or(|(n, _)| n <= final_number);
        let junction = loop {
            if let Some(block) = self.side.get(&cursor) {
                if self.refusal(&block.header).is_some() {
                    return None;
                }
                if anchored.is_some_and(|(n, h)| n == block.header.number && h == cursor) {
                    holds_anchor = true;
                }
                side_path.push(cursor);
                cursor = block.header.parent_hash;
                continue;
            }
            if let Some(position) = self.canonical_position(&cursor) {
                break Some(position);
            }
            if self.base.as_ref().map(|b| b.hash()).unwrap_or_default() == cursor {
                break None;
            }
            // Its ancestry is not known.
            return None;
        };
        let canonical_top = junction.map(|p| p + 1).unwrap_or(0);
        for applied in self.recent.iter().take(canonical_top) {
            let header = &applied.block.header;
            if self.refusal(header).is_some() {
                return None;
            }
            if anchored.is_some_and(|(n, h)| n == header.number && h == header.hash()) {
                holds_anchor = true;
            }
        }
        if !holds_anchor {
            return None;
        }
        side_path.reverse();
        let junction_number = match junction {
            Some(position) => self.recent[position].block.header.number,
            None => final_number,
        };
        Some((junction_number, side_path))
    }

    /// The best acceptable chain: its tip, the number of the canonical block it leaves from,
    /// and the side blocks to apply after reverting down to that block. `None` if the head is
    /// already the best.
    pub fn best(&self, anchored: Option<(u64, Hash)>) -> Option<(Hash, u64, Vec<Hash>)> {
        // An anchor that no acceptable chain holds (its block was refused, e.g. its author
        // equivocated) does not bind.
        let anchored = anchored.filter(|(_, hash)| !self.bad.contains(hash));
        let best = self.best_holding(anchored).or_else(|| anchored.and_then(|_| self.best_holding(None)));
        let head = self.head().map(|h| h.hash());
        match best {
            Some((tip, junction, path)) if Some(tip) != head => Some((tip, junction, path)),
            Some(_) => None,
            // Nothing acceptable above the final block (the head's chain is refused): back to it.
            None if !self.recent.is_empty() => Some((Hash::zero(), self.final_number(), Vec::new())),
            None => None,
        }
    }

    /// The best acceptable chain holding `anchored` (the head's included), if any.
    fn best_holding(&self, anchored: Option<(u64, Hash)>) -> Option<(Hash, u64, Vec<Hash>)> {
        let mut best: Option<((u64, std::cmp::Reverse<Hash>), Hash, u64, Vec<Hash>)> = None;
        let candidates = self
            .side
            .values()
            .map(|b| &b.header)
            .chain(self.recent.iter().map(|a| &a.block.header))
            .map(|h| (h.number, h.hash()));
        for (number, hash) in candidates {
            let score = (number, std::cmp::Reverse(hash));
            if best.as_ref().is_some_and(|(s, ..)| *s >= score) {
                continue;
            }
            if let Some((junction, path)) = self.path(&hash, anchored) {
                best = Some((score, hash, junction, path));
            }
        }
        best.map(|(_, tip, junction, path)| (tip, junction, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloister_primitives::{sidechain::SidechainPayload, ShardId};

    fn block(number: u64, parent: Hash, author: u8, slot: u64, salt: u8) -> SignedSidechainBlock {
        SignedSidechainBlock {
            header: SidechainHeader {
                number,
                parent_hash: parent,
                shard: ShardId::repeat_byte(1),
                slot,
                author: [author; 32],
                parentchain_head: (0, Hash::zero()),
                state_root: Hash::repeat_byte(salt),
                payload_hash: Hash::zero(),
            },
            payload: SidechainPayload { operations: vec![], encrypted_diff: vec![] },
            signature: [0; 64],
        }
    }

    fn applied(block: SignedSidechainBlock) -> Applied {
        Applied { block, undo: Vec::new(), calls: Vec::new() }
    }

    #[test]
    fn the_longest_chain_wins_then_the_lowest_hash() {
        let mut chain = Chain::default();
        let b1 = block(1, Hash::zero(), 1, 1, 1);
        chain.push(applied(b1.clone()));
        let b2 = block(2, b1.hash(), 2, 2, 2);
        chain.push(applied(b2.clone()));
        assert!(chain.best(None).is_none(), "the head is the only chain");

        // A sibling of the head: equal length, the lower hash wins.
        let s2 = block(2, b1.hash(), 3, 3, 3);
        chain.add_side(s2.clone());
        let expected = if s2.hash() < b2.hash() { Some((s2.hash(), 1, vec![s2.hash()])) } else { None };
        assert_eq!(chain.best(None), expected);

        // A longer side chain wins whatever the hashes.
        let s3 = block(3, s2.hash(), 1, 4, 4);
        chain.add_side(s3.clone());
        assert_eq!(chain.best(None), Some((s3.hash(), 1, vec![s2.hash(), s3.hash()])));

        // Unless it leaves out the anchored block.
        assert_eq!(chain.best(Some((2, b2.hash()))), None);
    }

    #[test]
    fn an_equivocating_author_is_caught_and_its_chains_lose() {
        let mut chain = Chain::default();
        let b1 = block(1, Hash::zero(), 1, 1, 1);
        chain.push(applied(b1.clone()));
        let b2 = block(2, b1.hash(), 2, 2, 2);
        assert_eq!(chain.note_signed(&b2.header), None);
        chain.push(applied(b2.clone()));
        let b3 = block(3, b2.hash(), 3, 3, 3);
        chain.push(applied(b3.clone()));
        // Author 2 signs another block for slot 2.
        let twin = block(2, b1.hash(), 2, 2, 9);
        assert_eq!(chain.note_signed(&twin.header), Some(b2.hash()));
        chain.ban([2; 32], 2);
        assert_eq!(chain.refusal(&twin.header), Some(Refusal::Banned));
        // The best acceptable chain is b1 alone: back to it, nothing to apply.
        assert_eq!(chain.best(None), Some((b1.hash(), 1, vec![])));
        // An honest sibling on b1 then wins.
        let s2 = block(2, b1.hash(), 3, 4, 4);
        chain.add_side(s2.clone());
        assert_eq!(chain.best(None), Some((s2.hash(), 1, vec![s2.hash()])));
    }

    #[test]
    fn blocks_below_the_window_are_final() {
        let mut chain = Chain::default();
        let mut parent = Hash::zero();
        for n in 1..=(MAX_REORG as u64 + 5) {
            let b = block(n, parent, 1, n, n as u8);
            parent = b.hash();
            chain.push(applied(b));
        }
        assert_eq!(chain.recent.len(), MAX_REORG);
        assert_eq!(chain.final_number(), 5);
        let old = block(5, Hash::repeat_byte(7), 2, 100, 1);
        assert_eq!(chain.refusal(&old.header), Some(Refusal::Final));
        assert!(chain.knows_parent(&block(7, chain.recent[0].block.hash(), 1, 200, 1).header));
        assert!(!chain.knows_parent(&block(7, Hash::repeat_byte(3), 1, 200, 1).header));
    }
}
