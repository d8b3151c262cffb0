//! The one way blindspot walks a paginated AWS listing.
//!
//! The ports are page-level (`next_token` in, [`Page`] out) so that a caller
//! can stream a 100k-resource account. Walking the pages has two traps that a
//! hand-written loop gets wrong one way or another: a service (or a fake) that
//! hands out the same token again loops forever, and one that never stops
//! handing out new tokens does too. [`pages`] guards against both, so every
//! listing in the rules fails the evaluation with a clear message instead of
//! hanging until its timeout.

use std::collections::HashSet;
use std::future::Future;

use futures::stream::{self, Stream, TryStreamExt};

use crate::{AwsError, AwsErrorKind, Page};

/// The default bound on pages per listing: 10,000 pages is two million
/// resources at ListCoverage's 200 and ten times SSM's association quota at
/// ListAssociations' 50, far beyond any real account and region.
pub const MAX_PAGES: usize = 10_000;

/// Which call is being paged, for error messages, and how many pages it may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listing {
    /// The service, e.g. `ssm`.
    pub service: &'static str,
    /// The operation, e.g. `ListAssociations`.
    pub operation: &'static str,
    /// The most pages to read before giving up.
    pub max_pages: usize,
}

impl Listing {
    /// A listing with the default page bound, [`MAX_PAGES`].
    pub const fn new(service: &'static str, operation: &'static str) -> Self {
        Listing {
            service,
            operation,
            max_pages: MAX_PAGES,
        }
    }

    /// The same listing with another page bound.
    pub const fn max_pages(self, max_pages: usize) -> Self {
        Listing { max_pages, ..self }
    }

    fn error(&self, message: String) -> AwsError {
        AwsError::new(
            self.service,
            self.operation,
            AwsErrorKind::InvalidResponse,
            message,
        )
    }
}

struct Walk<F> {
    call: F,
    token: Option<String>,
    seen: HashSet<String>,
    pages: usize,
    done: bool,
}

/// The items of every page of a listing, one page at a time.
///
/// `call` makes one page-level call with the token of the page to fetch
/// (`None` for the first). The stream ends after the last page (no token, or
/// an empty one, which some services send), and fails when the service hands
/// out a token it already gave, or after `listing.max_pages` pages. A page is
/// requested only when the stream is polled again, so a consumer that drops
/// each page before asking for the next holds one page at a time.
pub fn pages<T, F, Fut>(listing: Listing, call: F) -> impl Stream<Item = Result<Vec<T>, AwsError>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, AwsError>>,
{
    let walk = Walk {
        call,
        token: None,
        seen: HashSet::new(),
        pages: 0,
        done: false,
    };
    stream::try_unfold(walk, move |mut walk| async move {
        if walk.done {
            return Ok(None);
        }
        if walk.pages >= listing.max_pages {
            return Err(listing.error(format!(
                "the listing did not finish within {} pages; giving up",
                listing.max_pages
            )));
        }
        let page = (walk.call)(walk.token.take()).await?;
        walk.pages += 1;
        match page.next_token {
            Some(next) if !next.is_empty() => {
                if !walk.seen.insert(next.clone()) {
                    return Err(listing.error(format!(
                        "the service returned the next token `{next}` twice; the listing \
                         cannot complete"
                    )));
                }
                walk.token = Some(next);
            }
            _ => walk.done = true,
        }
        Ok(Some((page.items, walk)))
    })
}

/// Every item of a listing, in order; see [`pages`] for the guards.
pub async fn collect_all<T, F, Fut>(listing: Listing, call: F) -> Result<Vec<T>, AwsError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, AwsError>>,
{
    pages(listing, call).try_concat().await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use futures::StreamExt;
    use std::cell::RefCell;

    const LISTING: Listing = Listing::new("ssm", "ListAssociations");

    /// A listing that answers from a fixed table: page `i` holds `[i]` and
    /// names the token at `tokens[i]`.
    fn script(
        tokens: &'static [Option<&'static str>],
    ) -> impl FnMut(Option<String>) -> std::future::Ready<Result<Page<usize>, AwsError>> {
        let position = RefCell::new(0usize);
        move |_token| {
            let mut i = position.borrow_mut();
            let page = Page {
                items: vec![*i],
                next_token: tokens.get(*i).copied().flatten().map(str::to_owned),
            };
            *i += 1;
            std::future::ready(Ok(page))
        }
    }

    #[tokio::test]
    async fn reads_every_page_and_passes_each_token_on() {
        let asked = RefCell::new(Vec::new());
        let tokens = ["a", "b"];
        let all = collect_all(LISTING, |token: Option<String>| {
            let n = asked.borrow().len();
            asked.borrow_mut().push(token);
            std::future::ready(Ok(Page {
                items: vec![n],
                next_token: tokens.get(n).map(|t| (*t).to_owned()),
            }))
        })
        .await
        .unwrap();
        assert_eq!(all, [0, 1, 2]);
        assert_eq!(
            *asked.borrow(),
            [None, Some("a".to_owned()), Some("b".to_owned())]
        );
    }

    #[tokio::test]
    async fn an_empty_token_ends_the_listing() {
        let all = collect_all(LISTING, script(&[Some("a"), Some("")]))
            .await
            .unwrap();
        assert_eq!(all, [0, 1]);
    }

    #[tokio::test]
    async fn a_repeated_token_fails_instead_of_looping() {
        let err = collect_all(LISTING, script(&[Some("a"), Some("b"), Some("a")]))
            .await
            .unwrap_err();
        assert_eq!(err.kind, AwsErrorKind::InvalidResponse);
        assert_eq!(err.operation, "ListAssociations");
        assert!(err.to_string().contains("`a` twice"), "{err}");
    }

    #[tokio::test]
    async fn the_page_cap_fails_a_listing_that_never_ends() {
        let calls = RefCell::new(0usize);
        let err = collect_all(LISTING.max_pages(3), |_| {
            *calls.borrow_mut() += 1;
            let n = *calls.borrow();
            std::future::ready(Ok(Page {
                items: vec![n],
                next_token: Some(format!("t{n}")),
            }))
        })
        .await
        .unwrap_err();
        assert!(err.to_string().contains("within 3 pages"), "{err}");
        assert_eq!(*calls.borrow(), 3, "no call beyond the cap");
    }

    #[tokio::test]
    async fn an_error_ends_the_stream_with_that_error() {
        let denied = AwsError::from_code("ssm", "ListAssociations", "AccessDeniedException", "no");
        let mut first = true;
        let results: Vec<_> = pages(LISTING, |_| {
            let answer = if std::mem::take(&mut first) {
                Ok(Page {
                    items: vec![1],
                    next_token: Some("a".into()),
                })
            } else {
                Err(denied.clone())
            };
            std::future::ready(answer)
        })
        .collect()
        .await;
        assert_eq!(results.len(), 2);
        assert_eq!(
            results[1].as_ref().unwrap_err().kind,
            AwsErrorKind::AccessDenied
        );
    }

    #[tokio::test]
    async fn pages_are_fetched_only_when_asked_for() {
        let calls = RefCell::new(0usize);
        let mut stream = Box::pin(pages(LISTING, |_| {
            *calls.borrow_mut() += 1;
            std::future::ready(Ok(Page {
                items: vec![0u8],
                next_token: Some(format!("t{}", calls.borrow())),
            }))
        }));
        stream.next().await;
        assert_eq!(*calls.borrow(), 1);
    }
}
