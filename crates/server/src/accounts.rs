//! The account directory: which AWS accounts the daemon knows and their names.
//!
//! Names come from outside the store (AWS Organizations `ListAccounts`, or
//! the `name` of an `[[aws.accounts]]` entry) and change without any
//! evaluation, so they are not findings' data: the binary owns one
//! [`AccountNames`], feeds it as it discovers and resolves accounts, and the
//! server reads it per request. The API adds `account_name` beside every
//! `account`, the dashboard shows "name (id)", and `/metrics` exports one
//! `blindspot_account_info{account,name}` per account; every other metric
//! keeps `account` as the ID, which never changes when an account is renamed.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// Account ID → account name, shared between the binary (the writer) and
/// the server (the readers). Cheap to clone: clones share the directory.
///
/// An account known without a name (an `[[aws.accounts]]` entry without
/// `name`) is inserted with an empty name: it is listed by
/// `GET /api/v1/accounts` and `blindspot_account_info`, and its
/// `account_name` is `null`.
#[derive(Debug, Clone, Default)]
pub struct AccountNames {
    inner: Arc<RwLock<BTreeMap<String, String>>>,
}

impl AccountNames {
    /// An empty directory.
    pub fn new() -> Self {
        AccountNames::default()
    }

    /// Replaces the whole directory, e.g. after a refresh of the
    /// organisation's account list; an account no longer in `names` is
    /// forgotten. Pass the union of every source (Organizations and the
    /// configured accounts), since nothing is merged here.
    pub fn replace_all(&self, names: BTreeMap<String, String>) {
        *self.write() = names;
    }

    /// Adds or renames one account.
    pub fn insert(&self, id: impl Into<String>, name: impl Into<String>) {
        self.write().insert(id.into(), name.into());
    }

    /// Forgets one account, e.g. one that left the organisation: it is no
    /// longer listed by `GET /api/v1/accounts` or `blindspot_account_info`
    /// (unless the store still has scopes of it).
    pub fn remove(&self, id: &str) {
        self.write().remove(id);
    }

    /// The account's name; `None` when it is unknown or empty.
    pub fn get(&self, id: &str) -> Option<String> {
        self.read().get(id).filter(|n| !n.is_empty()).cloned()
    }

    /// A copy of the directory, for a request that names many accounts (a
    /// page of findings) without taking the lock for each.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        self.read().clone()
    }

    // A poisoned lock only means a writer panicked between two map
    // operations; the map itself is still whole, so keep serving it.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, String>> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, String>> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl From<BTreeMap<String, String>> for AccountNames {
    fn from(names: BTreeMap<String, String>) -> Self {
        let directory = AccountNames::new();
        directory.replace_all(names);
        directory
    }
}

/// The name of `account` in a [`AccountNames::snapshot`], `None` when
/// unknown or empty.
pub(crate) fn name_in(names: &BTreeMap<String, String>, account: &str) -> Option<String> {
    names.get(account).filter(|n| !n.is_empty()).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_directory() {
        let names = AccountNames::new();
        let reader = names.clone();
        names.insert("111111111111", "prod");
        names.insert("222222222222", "");
        assert_eq!(reader.get("111111111111").as_deref(), Some("prod"));
        assert_eq!(reader.get("222222222222"), None, "empty is unknown");
        assert_eq!(reader.get("333333333333"), None);
        assert_eq!(reader.snapshot().len(), 2, "an unnamed account is known");
        names.remove("222222222222");
        assert_eq!(reader.snapshot().len(), 1);

        names.replace_all(BTreeMap::from([(
            "333333333333".to_owned(),
            "staging".to_owned(),
        )]));
        assert_eq!(reader.get("111111111111"), None, "forgotten");
        assert_eq!(reader.get("333333333333").as_deref(), Some("staging"));
        assert_eq!(
            name_in(&reader.snapshot(), "333333333333").as_deref(),
            Some("staging")
        );
    }
}
