//! The paging rules every list shares, in one place: `limit` is 1–100 (default 20, the bounds in
//! `coach_shared::limits`), anything else is 400 `validation_error` on `limit`; `cursor` is the
//! previous page's `nextCursor` (a [`Cursor`] over `(created_at, id)`), a malformed one is 400 on
//! `cursor`; a page that came back full carries the cursor of its last row, a shorter page none.
//!
//! The lists keep their own query structs (they document their own extra filters) and SQL (their
//! own tables), and hand `limit`/`cursor` to [`page`] and their rows to [`next_cursor`].

use coach_shared::limits::{LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, LIST_LIMIT_MIN};

use crate::db::Cursor;
use crate::error::AppError;

/// Which way a list runs through `(created_at, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Newest first: the next page holds rows before the cursor (`ORDER BY created_at DESC, id DESC`).
    NewestFirst,
    /// Oldest first: the next page holds rows after the cursor (`ORDER BY created_at, id`).
    OldestFirst,
}

/// A validated page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Rows to return, within the bounds.
    pub limit: u32,
    /// Where the page starts: the given cursor, or before the first row in `order`.
    pub cursor: Cursor,
}

impl Page {
    /// `limit` as the SQL `LIMIT` value.
    pub fn sql_limit(&self) -> i64 {
        i64::from(self.limit)
    }
}

/// Checks `limit` alone (lists paged by offset share the bound).
pub fn limit(limit: Option<u32>) -> Result<u32, AppError> {
    let limit = limit.unwrap_or(LIST_LIMIT_DEFAULT);
    if !(LIST_LIMIT_MIN..=LIST_LIMIT_MAX).contains(&limit) {
        return Err(AppError::field("limit", "out_of_range", "must be between 1 and 100"));
    }
    Ok(limit)
}

/// Checks `limit` and `cursor` of a keyset-paged list running in `order`.
pub fn page(limit_param: Option<u32>, cursor: Option<&str>, order: Order) -> Result<Page, AppError> {
    let limit = limit(limit_param)?;
    let cursor = match cursor {
        None => match order {
            Order::NewestFirst => Cursor::start(),
            Order::OldestFirst => Cursor { at: i64::MIN, id: String::new() },
        },
        Some(c) => {
            Cursor::parse(c).ok_or_else(|| AppError::field("cursor", "invalid_format", "must be a nextCursor value"))?
        }
    };
    Ok(Page { limit, cursor })
}

/// The `nextCursor` of a page: the last row's `(created_at, id)` when the page is full.
pub fn next_cursor<T>(rows: &[T], page: &Page, key: impl Fn(&T) -> (i64, &str)) -> Option<String> {
    if rows.len() != page.limit as usize {
        return None;
    }
    rows.last().map(|r| {
        let (at, id) = key(r);
        Cursor { at, id: id.to_string() }.to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_bounds_and_default() {
        assert_eq!(limit(None).unwrap(), 20);
        assert_eq!(limit(Some(1)).unwrap(), 1);
        assert_eq!(limit(Some(100)).unwrap(), 100);
        for bad in [0, 101, u32::MAX] {
            assert!(matches!(limit(Some(bad)), Err(AppError::Validation(_))), "{bad}");
        }
    }

    #[test]
    fn cursors_start_before_the_first_row_and_round_trip() {
        assert_eq!(page(None, None, Order::NewestFirst).unwrap().cursor, Cursor::start());
        assert_eq!(page(None, None, Order::OldestFirst).unwrap().cursor.at, i64::MIN);
        let p = page(Some(2), Some("1700000000000.abc"), Order::OldestFirst).unwrap();
        assert_eq!(p.cursor, Cursor { at: 1_700_000_000_000, id: "abc".into() });
        for bad in ["", "abc", "12.", ".x", "x.y"] {
            assert!(page(None, Some(bad), Order::NewestFirst).is_err(), "{bad:?}");
        }
        let rows = [(5i64, "a".to_string()), (6, "b".to_string())];
        fn key(r: &(i64, String)) -> (i64, &str) {
            (r.0, &r.1)
        }
        assert_eq!(next_cursor(&rows, &p, key).as_deref(), Some("6.b"), "a full page continues");
        let p3 = Page { limit: 3, ..p };
        assert_eq!(next_cursor(&rows, &p3, key), None, "a short page is the last");
    }
}
