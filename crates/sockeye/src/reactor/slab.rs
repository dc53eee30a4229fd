//! The reactor's table of connections, indexed by the token each socket
//! is registered with.
//!
//! Entries live in pages of fixed size that never move or grow, so adding
//! the 10,001st connection allocates one more page instead of copying a
//! table of 10,000 (and leaving the old one's pages resident). Free places
//! form a list threaded through the vacant slots themselves.

/// Entries per page: about 64-100 KiB of connections.
const PAGE: usize = 256;

/// A place in the table.
#[derive(Debug)]
enum Slot<T> {
    Occupied(T),
    /// Free; the next free place, or `usize::MAX` at the end of the list.
    Vacant(usize),
}

/// Connections by key, with keys reused once free.
#[derive(Debug)]
pub(super) struct Slab<T> {
    pages: Vec<Vec<Slot<T>>>,
    /// The first free place, or `usize::MAX`.
    free: usize,
    len: usize,
}

impl<T> Slab<T> {
    pub(super) fn new() -> Self {
        Slab {
            pages: Vec::new(),
            free: usize::MAX,
            len: 0,
        }
    }

    /// Occupied places.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The key the next [`insert`](Self::insert) will use.
    pub(super) fn vacant_key(&self) -> usize {
        if self.free != usize::MAX {
            return self.free;
        }
        match self.pages.last() {
            Some(page) if page.len() < PAGE => (self.pages.len() - 1) * PAGE + page.len(),
            _ => self.pages.len() * PAGE,
        }
    }

    /// Stores `value` at [`vacant_key`](Self::vacant_key) and returns it.
    pub(super) fn insert(&mut self, value: T) -> usize {
        let key = self.vacant_key();
        if self.free == key {
            let slot = &mut self.pages[key / PAGE][key % PAGE];
            let Slot::Vacant(next) = *slot else {
                unreachable!("the free list names only vacant places")
            };
            self.free = next;
            *slot = Slot::Occupied(value);
        } else {
            if key % PAGE == 0 {
                self.pages.push(Vec::with_capacity(PAGE));
            }
            self.pages[key / PAGE].push(Slot::Occupied(value));
        }
        self.len += 1;
        key
    }

    pub(super) fn get_mut(&mut self, key: usize) -> Option<&mut T> {
        match self.pages.get_mut(key / PAGE)?.get_mut(key % PAGE)? {
            Slot::Occupied(value) => Some(value),
            Slot::Vacant(_) => None,
        }
    }

    /// Takes the value out and frees its place.
    pub(super) fn remove(&mut self, key: usize) -> Option<T> {
        let slot = self.pages.get_mut(key / PAGE)?.get_mut(key % PAGE)?;
        if matches!(slot, Slot::Vacant(_)) {
            return None;
        }
        let Slot::Occupied(value) = std::mem::replace(slot, Slot::Vacant(self.free)) else {
            unreachable!("checked above")
        };
        self.free = key;
        self.len -= 1;
        Some(value)
    }

    /// The keys in use, in order. A snapshot: the table may change while
    /// they are visited.
    pub(super) fn keys(&self) -> Vec<usize> {
        let mut keys = Vec::with_capacity(self.len);
        for (p, page) in self.pages.iter().enumerate() {
            for (i, slot) in page.iter().enumerate() {
                if matches!(slot, Slot::Occupied(_)) {
                    keys.push(p * PAGE + i);
                }
            }
        }
        keys
    }

    /// Visits every occupied place, in key order.
    pub(super) fn for_each_mut(&mut self, mut visit: impl FnMut(usize, &mut T)) {
        for (p, page) in self.pages.iter_mut().enumerate() {
            for (i, slot) in page.iter_mut().enumerate() {
                if let Slot::Occupied(value) = slot {
                    visit(p * PAGE + i, value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_reused_last_freed_first() {
        let mut slab = Slab::new();
        let a = slab.insert('a');
        let b = slab.insert('b');
        let c = slab.insert('c');
        assert_eq!((a, b, c), (0, 1, 2));
        assert_eq!(slab.remove(b), Some('b'));
        assert_eq!(slab.remove(b), None);
        assert_eq!(slab.remove(a), Some('a'));
        assert_eq!(slab.vacant_key(), a);
        assert_eq!(slab.insert('d'), a);
        assert_eq!(slab.insert('e'), b);
        assert_eq!(slab.insert('f'), 3);
        assert_eq!(slab.len(), 4);
        assert_eq!(slab.get_mut(c), Some(&mut 'c'));
        assert_eq!(slab.get_mut(99), None);
    }

    #[test]
    fn pages_fill_in_order_and_never_move() {
        let mut slab = Slab::new();
        for i in 0..PAGE * 3 + 5 {
            assert_eq!(slab.insert(i), i);
        }
        let first: *const usize = slab.get_mut(0).unwrap();
        for i in 0..PAGE * 2 {
            slab.insert(PAGE * 4 + i);
        }
        assert_eq!(first, std::ptr::from_ref::<usize>(slab.get_mut(0).unwrap()));
        assert_eq!(slab.pages.len(), 6);
        assert!(slab.pages.iter().all(|page| page.capacity() == PAGE));
        let mut seen = 0;
        slab.for_each_mut(|key, value| {
            if key < PAGE * 3 + 5 {
                assert_eq!(key, *value);
            }
            seen += 1;
        });
        assert_eq!(seen, slab.len());
        assert_eq!(slab.keys().len(), slab.len());
    }

    #[test]
    fn emptied_table_is_empty() {
        let mut slab = Slab::new();
        let keys: Vec<_> = (0..10).map(|i| slab.insert(i)).collect();
        for key in keys {
            slab.remove(key);
        }
        assert!(slab.is_empty());
        assert!(slab.keys().is_empty());
    }
}
