//! `framework.CycleState`: data plugins share within one scheduling cycle.
//!
//! Upstream keys the map by strings; here each plugin's state has its own Rust type and the state is
//! found by `TypeId` in a short vector (a handful of entries), which is cheaper than hashing a string
//! on every Filter call. Cloning (preemption evaluates every candidate node on a copy) clones each
//! entry through [`StateData`].

use std::any::{Any, TypeId};

/// Plugin state stored in a [`CycleState`]: any `Clone + Send + Sync + 'static` type.
pub trait StateData: Any + Send + Sync {
    fn clone_state(&self) -> Box<dyn StateData>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any + Clone + Send + Sync> StateData for T {
    fn clone_state(&self) -> Box<dyn StateData> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Per-cycle plugin data, plus the plugins a PreFilter/PreScore `Skip` excluded.
#[derive(Default)]
pub struct CycleState {
    entries: Vec<(TypeId, Box<dyn StateData>)>,
    /// Bit `i` set: the profile's plugin `i` returned Skip at PreFilter, so its Filter is not run.
    pub(crate) skip_filter: u64,
    /// Bit `i` set: the profile's plugin `i` returned Skip at PreScore, so its Score is not run.
    pub(crate) skip_score: u64,
}

impl Clone for CycleState {
    fn clone(&self) -> Self {
        CycleState {
            entries: self
                .entries
                .iter()
                .map(|(t, d)| (*t, (**d).clone_state()))
                .collect(),
            skip_filter: self.skip_filter,
            skip_score: self.skip_score,
        }
    }
}

impl std::fmt::Debug for CycleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CycleState")
            .field("entries", &self.entries.len())
            .field("skip_filter", &self.skip_filter)
            .field("skip_score", &self.skip_score)
            .finish()
    }
}

impl CycleState {
    pub fn new() -> Self {
        CycleState::default()
    }

    /// Stores `value`, replacing any earlier value of the same type.
    pub fn write<T: StateData + Clone>(&mut self, value: T) {
        let id = TypeId::of::<T>();
        if let Some(e) = self.entries.iter_mut().find(|(t, _)| *t == id) {
            e.1 = Box::new(value);
        } else {
            self.entries.push((id, Box::new(value)));
        }
    }

    /// The stored value of type `T`.
    #[inline]
    pub fn read<T: 'static>(&self) -> Option<&T> {
        let id = TypeId::of::<T>();
        self.entries
            .iter()
            .find(|(t, _)| *t == id)
            .and_then(|(_, d)| (**d).as_any().downcast_ref::<T>())
    }

    /// The stored value of type `T`, mutably (PreFilter extensions update it).
    pub fn read_mut<T: 'static>(&mut self) -> Option<&mut T> {
        let id = TypeId::of::<T>();
        self.entries
            .iter_mut()
            .find(|(t, _)| *t == id)
            .and_then(|(_, d)| (**d).as_any_mut().downcast_mut::<T>())
    }

    /// Removes the value of type `T`.
    pub fn delete<T: 'static>(&mut self) {
        let id = TypeId::of::<T>();
        self.entries.retain(|(t, _)| *t != id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct A(u32);
    #[derive(Clone, Debug, PartialEq)]
    struct B(String);

    #[test]
    fn write_read_clone() {
        let mut s = CycleState::new();
        s.write(A(1));
        s.write(B("x".into()));
        s.write(A(2));
        assert_eq!(s.read::<A>(), Some(&A(2)));
        let mut c = s.clone();
        c.read_mut::<A>().unwrap().0 = 3;
        assert_eq!(s.read::<A>(), Some(&A(2)));
        assert_eq!(c.read::<A>(), Some(&A(3)));
        c.delete::<B>();
        assert!(c.read::<B>().is_none());
        assert!(s.read::<B>().is_some());
    }
}
