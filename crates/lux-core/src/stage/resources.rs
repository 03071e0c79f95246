//! [`Resources`]: values shared by the stages of one run.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::Result;

type Entry = Arc<dyn Any + Send + Sync>;

/// Values shared by the stages of one run, keyed by their type and a name: the loaded base
/// model (so three evaluations do not load it three times), the recipe's `[model]` table,
/// LLM clients. Cloning a `Resources` shares the same map.
///
/// ```
/// use lux_core::stage::Resources;
/// let resources = Resources::default();
/// let a = resources.get_or_try_insert("answer", || Ok(42u32)).unwrap();
/// let b = resources.get_or_try_insert("answer", || Ok(0u32)).unwrap();
/// assert_eq!((*a, *b), (42, 42));
/// ```
#[derive(Clone, Default)]
pub struct Resources {
    map: Arc<Mutex<HashMap<(TypeId, String), Entry>>>,
}

impl fmt::Debug for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self
            .map
            .lock()
            .map(|m| m.keys().map(|(_, name)| name.clone()).collect())
            .unwrap_or_default();
        f.debug_struct("Resources").field("names", &names).finish()
    }
}

impl Resources {
    /// Stores `value` under `name`, replacing an earlier value of the same type and name.
    pub fn insert<T: Any + Send + Sync>(&self, name: &str, value: T) -> Arc<T> {
        let value = Arc::new(value);
        self.lock()
            .insert((TypeId::of::<T>(), name.to_string()), value.clone());
        value
    }

    /// The value of type `T` stored under `name`, if any.
    pub fn get<T: Any + Send + Sync>(&self, name: &str) -> Option<Arc<T>> {
        self.lock()
            .get(&(TypeId::of::<T>(), name.to_string()))
            .cloned()
            .and_then(|v| v.downcast::<T>().ok())
    }

    /// The value stored under `name`, made by `make` the first time. `make` runs with the map
    /// unlocked (loading a model takes seconds), so two callers racing may both make it; the
    /// first stored wins.
    pub fn get_or_try_insert<T: Any + Send + Sync>(
        &self,
        name: &str,
        make: impl FnOnce() -> Result<T>,
    ) -> Result<Arc<T>> {
        if let Some(v) = self.get::<T>(name) {
            return Ok(v);
        }
        let made: Entry = Arc::new(make()?);
        let stored = self
            .lock()
            .entry((TypeId::of::<T>(), name.to_string()))
            .or_insert(made)
            .clone();
        Ok(stored
            .downcast::<T>()
            .unwrap_or_else(|_| unreachable!("keyed by TypeId")))
    }

    /// Drops the value of type `T` under `name` (a model no later stage needs).
    pub fn remove<T: Any + Send + Sync>(&self, name: &str) {
        self.lock().remove(&(TypeId::of::<T>(), name.to_string()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(TypeId, String), Entry>> {
        // A panic while holding the lock leaves the map itself consistent.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_by_type_and_name() {
        let r = Resources::default();
        r.insert("x", 1u8);
        r.insert("x", "one".to_string());
        assert_eq!(*r.get::<u8>("x").unwrap(), 1);
        assert_eq!(*r.get::<String>("x").unwrap(), "one");
        assert!(r.get::<u16>("x").is_none());
        r.remove::<u8>("x");
        assert!(r.get::<u8>("x").is_none());
    }

    #[test]
    fn a_failed_make_stores_nothing() {
        let r = Resources::default();
        let e = r.get_or_try_insert::<u8>("m", || Err(crate::Error::invalid("m", "no")));
        assert!(e.is_err());
        assert_eq!(*r.get_or_try_insert("m", || Ok(3u8)).unwrap(), 3);
    }
}
