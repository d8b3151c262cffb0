//! The set of targets, which may change while the scheduler runs: accounts
//! join and leave an organisation, and the binary re-reads the account list
//! on its own schedule. The scheduler reads the current set at the start of
//! every activation and evaluates the targets it has not seen before as soon
//! as they appear, so a new account is watched within the refresh interval
//! rather than within the longest rule interval.

use std::sync::Arc;

use tokio::sync::watch;

use crate::Target;

/// The targets to evaluate: fixed, or updated through a [`watch`] channel.
pub struct TargetSet<C: ?Sized> {
    rx: watch::Receiver<Arc<Vec<Target<C>>>>,
    /// Keeps a fixed set's channel open, so `changed()` waits forever rather
    /// than failing at once.
    _fixed: Option<watch::Sender<Arc<Vec<Target<C>>>>>,
}

impl<C: ?Sized> TargetSet<C> {
    /// A set that never changes.
    pub fn fixed(targets: Vec<Target<C>>) -> Self {
        let (tx, rx) = watch::channel(Arc::new(targets));
        TargetSet {
            rx,
            _fixed: Some(tx),
        }
    }

    /// A set the owner of `tx` replaces whole whenever it changes.
    pub fn watch(rx: watch::Receiver<Arc<Vec<Target<C>>>>) -> Self {
        TargetSet { rx, _fixed: None }
    }

    /// The current targets.
    pub fn current(&self) -> Arc<Vec<Target<C>>> {
        Arc::clone(&self.rx.borrow())
    }

    /// A receiver of changes, for one rule's loop.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Arc<Vec<Target<C>>>> {
        self.rx.clone()
    }
}

impl<C: ?Sized> From<Vec<Target<C>>> for TargetSet<C> {
    fn from(targets: Vec<Target<C>>) -> Self {
        TargetSet::fixed(targets)
    }
}
