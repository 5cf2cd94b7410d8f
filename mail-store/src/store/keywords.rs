//! [`Keywords`]: a message's keywords in one pointer.

use std::ops::Deref;

/// A message's keywords (IMAP flags without a backslash), in the index's
/// keyword order. It reads as a `[String]` slice; a message without
/// keywords (most of them) costs one pointer and no allocation, so a view
/// of a big mailbox stays small.
///
/// ```
/// use columba_mail_store::store::Keywords;
///
/// let none = Keywords::default();
/// assert!(none.is_empty());
/// let some: Keywords = vec!["$Forwarded".to_string()].into();
/// assert_eq!(some.len(), 1);
/// assert!(some.iter().any(|k| k == "$Forwarded"));
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
// a boxed vector on purpose: one pointer (a `Vec` is three), and the
// common case (no keywords) allocates nothing
#[allow(clippy::box_collection)]
pub struct Keywords(Option<Box<Vec<String>>>);

impl Keywords {
    /// The keywords as a vector.
    pub fn to_vec(&self) -> Vec<String> {
        self.as_slice().to_vec()
    }

    /// The keywords as a slice.
    pub fn as_slice(&self) -> &[String] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }
}

impl Deref for Keywords {
    type Target = [String];

    fn deref(&self) -> &[String] {
        self.as_slice()
    }
}

impl std::fmt::Debug for Keywords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl From<Vec<String>> for Keywords {
    fn from(v: Vec<String>) -> Keywords {
        if v.is_empty() {
            Keywords(None)
        } else {
            Keywords(Some(Box::new(v)))
        }
    }
}

impl FromIterator<String> for Keywords {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Keywords {
        Keywords::from(iter.into_iter().collect::<Vec<String>>())
    }
}

impl<'a> IntoIterator for &'a Keywords {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl PartialEq<Vec<String>> for Keywords {
    fn eq(&self, other: &Vec<String>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl PartialEq<[String]> for Keywords {
    fn eq(&self, other: &[String]) -> bool {
        self.as_slice() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_one_pointer() {
        assert_eq!(
            std::mem::size_of::<Keywords>(),
            std::mem::size_of::<usize>()
        );
        assert_eq!(
            std::mem::size_of::<super::super::MessageMeta>(),
            32,
            "a view entry grew"
        );
    }

    #[test]
    fn empty_vectors_make_no_allocation() {
        assert_eq!(Keywords::from(Vec::new()), Keywords::default());
        let k: Keywords = ["a".to_string(), "b".to_string()].into_iter().collect();
        assert_eq!(k, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(format!("{k:?}"), "[\"a\", \"b\"]");
    }
}
