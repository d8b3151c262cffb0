//! Opaque `nextToken` pagination shared by every list operation.
//!
//! A token is the hex encoding of `v1:<offset>:<fingerprint>`, where the
//! offset indexes the *unfiltered* list (so a page of a filtered listing
//! resumes without rescanning what came before) and the fingerprint hashes
//! the operation, caller and filter. A token replayed with a different
//! filter, or garbled, is rejected in the operation's own error shape.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

/// A fingerprint of whatever must stay the same across the pages of one
/// listing (operation, account, region, filter).
pub(crate) fn fingerprint<T: Hash + ?Sized>(what: &T) -> u64 {
    let mut h = DefaultHasher::new();
    what.hash(&mut h);
    h.finish()
}

/// Encodes a resume position.
pub(crate) fn encode(offset: usize, fingerprint: u64) -> String {
    format!("v1:{offset}:{fingerprint:016x}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Decodes a token made by [`encode`] with the same fingerprint; `None` when
/// it is garbled or belongs to another listing.
pub(crate) fn decode(token: &str, fingerprint: u64) -> Option<usize> {
    if !token.len().is_multiple_of(2) || token.len() > 200 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| {
            token
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    let mut parts = text.split(':');
    if parts.next()? != "v1" {
        return None;
    }
    let offset: usize = parts.next()?.parse().ok()?;
    let fp = u64::from_str_radix(parts.next()?, 16).ok()?;
    if parts.next().is_some() || fp != fingerprint {
        return None;
    }
    Some(offset)
}

/// Resolves an optional `nextToken` into a start offset; `invalid` builds
/// the operation's own error for a token that does not decode. An empty
/// token counts as none (Inspector2's model allows length 0).
pub(crate) fn start<E>(
    token: Option<&str>,
    fingerprint: u64,
    invalid: impl FnOnce() -> E,
) -> Result<usize, E> {
    match token.filter(|t| !t.is_empty()) {
        None => Ok(0),
        Some(t) => decode(t, fingerprint).ok_or_else(invalid),
    }
}

/// Adds the token for `next`, if any, to a JSON answer as `member`
/// (`nextToken` or, in SSM, `NextToken`).
pub(crate) fn attach(
    out: &mut serde_json::Value,
    member: &str,
    next: Option<usize>,
    fingerprint: u64,
) {
    if let Some(n) = next {
        out[member] = serde_json::Value::String(encode(n, fingerprint));
    }
}

/// Resolves a requested page size against the operation's default and
/// limits; `Err` carries a message for the operation's validation error.
pub(crate) fn page_size(
    requested: Option<i64>,
    default: usize,
    min: i64,
    max: i64,
    member: &str,
) -> Result<usize, String> {
    match requested {
        None => Ok(default),
        Some(n) if (min..=max).contains(&n) => usize::try_from(n).map_err(|e| e.to_string()),
        Some(n) => Err(format!(
            "1 validation error detected: Value '{n}' at '{member}' failed to satisfy constraint: Member must have value between {min} and {max}"
        )),
    }
}

/// One page of `items` (already in listing order) from `start`, keeping
/// those `keep` accepts, without copying the list. Returns the page and the
/// offset to resume from, if anything may remain.
pub(crate) fn page<T>(
    items: &[T],
    start: usize,
    size: usize,
    mut keep: impl FnMut(&T) -> bool,
) -> (Vec<&T>, Option<usize>) {
    let mut out = Vec::with_capacity(size.min(items.len()));
    let mut i = start;
    while i < items.len() && out.len() < size {
        if keep(&items[i]) {
            out.push(&items[i]);
        }
        i += 1;
    }
    // Look ahead so that the last page carries no token; an empty trailing
    // page would cost clients a call and is not what AWS does.
    let more = items[i.min(items.len())..].iter().any(&mut keep);
    (out, more.then_some(i))
}

/// [`page`] over the concatenation of `segments`, as if they were one
/// list: offsets count across segments, and `keep` is told which segment
/// an item comes from.
pub(crate) fn page_segments<'a, T>(
    segments: &[&'a [T]],
    start: usize,
    size: usize,
    mut keep: impl FnMut(usize, &T) -> bool,
) -> (Vec<&'a T>, Option<usize>) {
    let mut items = segments
        .iter()
        .enumerate()
        .flat_map(|(seg, items)| items.iter().map(move |t| (seg, t)))
        .skip(start);
    let mut out = Vec::with_capacity(size.min(256));
    let mut position = start;
    while out.len() < size {
        let Some((seg, item)) = items.next() else {
            return (out, None);
        };
        position += 1;
        if keep(seg, item) {
            out.push(item);
        }
    }
    let more = items.any(|(seg, item)| keep(seg, item));
    (out, more.then_some(position))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_mismatch() {
        let t = encode(200, 42);
        assert_eq!(decode(&t, 42), Some(200));
        assert_eq!(decode(&t, 43), None);
        assert_eq!(decode("zz", 42), None);
        assert_eq!(decode("abc", 42), None);
        assert_eq!(decode("", 42), None);
    }

    #[test]
    fn pages_skip_filtered_items_and_end_without_token() {
        let items: Vec<u32> = (0..10).collect();
        let (p, next) = page(&items, 0, 3, |x| x % 2 == 0);
        assert_eq!(p, vec![&0, &2, &4]);
        let (p, next) = page(&items, next.unwrap(), 3, |x| x % 2 == 0);
        assert_eq!(p, vec![&6, &8]);
        assert_eq!(next, None);
    }

    #[test]
    fn segments_page_as_one_list() {
        let a = [1, 2, 3];
        let b: [i32; 0] = [];
        let c = [4, 5, 6, 7];
        let segments: [&[i32]; 3] = [&a, &b, &c];
        let hidden = |seg: usize, _: &i32| seg != 0;
        let (p, next) = page_segments(&segments, 0, 2, hidden);
        assert_eq!(p, vec![&4, &5]);
        let (p, next) = page_segments(&segments, next.unwrap(), 2, hidden);
        assert_eq!(p, vec![&6, &7]);
        assert_eq!(next, None);
        let all = |_: usize, _: &i32| true;
        let (p, next) = page_segments(&segments, 2, 3, all);
        assert_eq!(p, vec![&3, &4, &5]);
        assert_eq!(next, Some(5));
        let (p, next) = page_segments(&segments, 5, 10, all);
        assert_eq!((p, next), (vec![&6, &7], None));
    }

    #[test]
    fn page_sizes_are_checked() {
        assert_eq!(page_size(None, 10, 1, 500, "maxResults"), Ok(10));
        assert_eq!(page_size(Some(50), 10, 1, 500, "maxResults"), Ok(50));
        assert!(page_size(Some(0), 10, 1, 500, "maxResults").is_err());
        assert!(page_size(Some(501), 10, 1, 500, "maxResults").is_err());
    }
}
