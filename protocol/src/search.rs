//! The search query language, read the same way by every log and shown
//! the same way by the client: words in any order (all must match), a
//! phrase in double quotes, a prefix (`deplo*`), `from:alice` and
//! `in:rust`. How a log matches the words (case- and accent-insensitive,
//! Chinese by its characters) is the log's; what a query *says* is here.

use thiserror::Error;

use crate::{validate_room, validate_username};

/// The longest query, in characters.
pub const QUERY_MAX_CHARS: usize = 200;
/// The most words, prefixes and phrases in one query: each is a lookup.
pub const QUERY_MAX_TERMS: usize = 10;

/// What must appear in a message for it to match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// A word, anywhere in the message.
    Word(String),
    /// A word beginning so (`deplo*`).
    Prefix(String),
    /// These words, in this order, next to each other (`"red alert"`).
    Phrase(String),
}

impl Term {
    /// The text the term looks for (a prefix without its `*`).
    pub fn text(&self) -> &str {
        match self {
            Self::Word(text) | Self::Prefix(text) | Self::Phrase(text) => text,
        }
    }
}

/// A parsed query: every term must match, in messages by `from` (a name,
/// as given) in `room` (canonical, as given by `in:`), if they are set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub terms: Vec<Term>,
    pub from: Option<String>,
    pub room: Option<String>,
}

/// Why a query cannot be run: the `invalid_query` error's message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QueryError {
    #[error("say what to look for: a word, a \"phrase\", a prefix* or from:name")]
    Empty,
    #[error("a query has at most {QUERY_MAX_CHARS} characters")]
    TooLong,
    #[error("a query has at most {QUERY_MAX_TERMS} words, phrases and prefixes")]
    TooManyTerms,
    #[error("a quote is not closed: put a \" at the end of the phrase")]
    Unbalanced,
    #[error("a prefix needs at least one letter before its *")]
    BarePrefix,
    #[error("{0} needs a name after the colon, such as from:alice")]
    EmptyFilter(&'static str),
    #[error("{0} is given twice")]
    Repeated(&'static str),
    #[error("from: names no one: {0}")]
    BadName(String),
    #[error("in: names no room: {0}")]
    BadRoom(String),
    #[error("the query says in:{0} but asks #{1}: search one room or the other")]
    OtherRoom(String, String),
}

impl Query {
    /// Reads `q`. A phrase or filter value with nothing in it is refused
    /// rather than ignored: a query that reads as something else would
    /// find the wrong messages without saying so.
    pub fn parse(q: &str) -> Result<Self, QueryError> {
        if q.chars().count() > QUERY_MAX_CHARS {
            return Err(QueryError::TooLong);
        }
        let mut query = Query::default();
        let mut rest = q.trim_start();
        while !rest.is_empty() {
            let (token, after) = if let Some(quoted) = rest.strip_prefix('"') {
                let end = quoted.find('"').ok_or(QueryError::Unbalanced)?;
                let phrase = quoted[..end].split_whitespace().collect::<Vec<_>>();
                if !phrase.is_empty() {
                    query.terms.push(Term::Phrase(phrase.join(" ")));
                }
                (None, &quoted[end + 1..])
            } else {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                (Some(&rest[..end]), &rest[end..])
            };
            if let Some(token) = token {
                query.read_token(token)?;
            }
            rest = after.trim_start();
        }
        if query.terms.len() > QUERY_MAX_TERMS {
            return Err(QueryError::TooManyTerms);
        }
        if query.terms.is_empty() && query.from.is_none() {
            return Err(QueryError::Empty);
        }
        Ok(query)
    }

    /// Reads `q` asked of `room` (`None`: of every room), which an `in:`
    /// may repeat but not contradict.
    pub fn parse_in(q: &str, room: Option<&str>) -> Result<Self, QueryError> {
        let query = Self::parse(q)?;
        match (&query.room, room) {
            (Some(named), Some(asked)) if *named != asked.trim().to_lowercase() => {
                Err(QueryError::OtherRoom(named.clone(), asked.to_owned()))
            }
            _ => Ok(query),
        }
    }

    fn read_token(&mut self, token: &str) -> Result<(), QueryError> {
        if token.contains('"') {
            return Err(QueryError::Unbalanced);
        }
        if let Some(name) = token.strip_prefix("from:") {
            let name = validate_username(name).map_err(|_| match name.is_empty() {
                true => QueryError::EmptyFilter("from:"),
                false => QueryError::BadName(name.to_owned()),
            })?;
            return set_once(&mut self.from, name.to_owned(), "from:");
        }
        if let Some(room) = token.strip_prefix("in:") {
            let room = room.strip_prefix('#').unwrap_or(room);
            let room = validate_room(room).map_err(|_| match room.is_empty() {
                true => QueryError::EmptyFilter("in:"),
                false => QueryError::BadRoom(room.to_owned()),
            })?;
            return set_once(&mut self.room, room.to_lowercase(), "in:");
        }
        match token.strip_suffix('*') {
            Some(stem) if stem.is_empty() || stem.ends_with('*') => Err(QueryError::BarePrefix),
            Some(stem) => {
                self.terms.push(Term::Prefix(stem.to_owned()));
                Ok(())
            }
            None => {
                self.terms.push(Term::Word(token.to_owned()));
                Ok(())
            }
        }
    }
}

fn set_once(
    slot: &mut Option<String>,
    value: String,
    filter: &'static str,
) -> Result<(), QueryError> {
    match slot {
        Some(_) => Err(QueryError::Repeated(filter)),
        None => {
            *slot = Some(value);
            Ok(())
        }
    }
}

/// One message a search found, in its current state: its room, id,
/// author, time (ms since the epoch) and text, and where in the text the
/// query's terms are (`marks`: character offsets, start and one past the
/// end, in order).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hit {
    pub room: String,
    pub id: u64,
    pub user: String,
    pub date_time: i64,
    pub msg: String,
    pub marks: Vec<[usize; 2]>,
}

/// One word of a message as search sees it: where it is (in characters)
/// and its folded form. Words are runs of letters and digits, except that
/// each Chinese character (and each kana) is a word of its own: Chinese
/// has no spaces between words, and a query's `世界` is then the phrase
/// `世 界`, which finds `你好世界` and `世界和平` alike, whatever a
/// segmenter would have made of them. Folded: compatibility forms
/// (`ｆｕｌｌ` is `full`), accents off (`café` is `cafe`), lower case. The
/// one rule for what a log indexes, what a query looks for, and which
/// characters a hit marks.
#[cfg(feature = "unicode")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Its first character's index, and one past its last.
    pub start: usize,
    pub end: usize,
    pub folded: String,
}

/// The words of `text` (see [`Word`]).
#[cfg(feature = "unicode")]
pub fn words(text: &str) -> Vec<Word> {
    let mut words = Vec::new();
    let mut current: Option<Word> = None;
    for (index, c) in text.chars().enumerate() {
        let ideograph = is_ideograph(c);
        if !c.is_alphanumeric() || ideograph {
            words.extend(current.take());
        }
        if ideograph {
            words.push(Word {
                start: index,
                end: index + 1,
                folded: fold(c),
            });
        } else if c.is_alphanumeric() {
            let word = current.get_or_insert_with(|| Word {
                start: index,
                end: index,
                folded: String::new(),
            });
            word.end = index + 1;
            word.folded.push_str(&fold(c));
        }
    }
    words.extend(current);
    words
}

/// Han, kana: written without spaces between words.
#[cfg(feature = "unicode")]
fn is_ideograph(c: char) -> bool {
    matches!(u32::from(c),
        0x3040..=0x30FF        // hiragana, katakana
        | 0x3400..=0x4DBF      // CJK extension A
        | 0x4E00..=0x9FFF      // CJK unified ideographs
        | 0xF900..=0xFAFF      // CJK compatibility ideographs
        | 0xFF66..=0xFF9F      // halfwidth katakana
        | 0x20000..=0x3134F    // CJK extensions B to G
    )
}

/// One character, folded: compatibility decomposition (NFKD), combining
/// marks dropped, lower case.
#[cfg(feature = "unicode")]
fn fold(c: char) -> String {
    use icu_normalizer::DecomposingNormalizerBorrowed;
    use icu_properties::props::GeneralCategory;
    use icu_properties::CodePointMapData;
    let categories = CodePointMapData::<GeneralCategory>::new();
    let mut buffer = [0; 4];
    DecomposingNormalizerBorrowed::new_nfkd()
        .normalize(c.encode_utf8(&mut buffer))
        .chars()
        .filter(|c| {
            !matches!(
                categories.get(*c),
                GeneralCategory::NonspacingMark | GeneralCategory::EnclosingMark
            )
        })
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(feature = "unicode")]
impl Term {
    /// The folded words it looks for, in order (a prefix's last word is
    /// the prefix); none when it has no letter or digit.
    pub fn folded(&self) -> Vec<String> {
        words(self.text())
            .into_iter()
            .map(|word| word.folded)
            .collect()
    }
}

#[cfg(feature = "unicode")]
impl Query {
    /// Where in `text` its terms are, in characters (start, one past the
    /// end), in order and without overlaps: what a hit marks.
    pub fn marks(&self, text: &str) -> Vec<[usize; 2]> {
        let found = words(text);
        let mut marks: Vec<[usize; 2]> = Vec::new();
        for term in &self.terms {
            let wanted = term.folded();
            let Some(last) = wanted.len().checked_sub(1) else {
                continue;
            };
            for (at, window) in found.windows(wanted.len()).enumerate() {
                let matches =
                    window
                        .iter()
                        .zip(&wanted)
                        .enumerate()
                        .all(|(n, (word, want))| match (term, n == last) {
                            (Term::Prefix(_), true) => word.folded.starts_with(want.as_str()),
                            (Term::Word(_) | Term::Prefix(_) | Term::Phrase(_), _) => {
                                word.folded == *want
                            }
                        });
                if matches {
                    marks.push([found[at].start, found[at + last].end]);
                }
            }
        }
        marks.sort_unstable();
        marks.dedup_by(|later, earlier| {
            let overlaps = later[0] < earlier[1];
            if overlaps {
                earlier[1] = earlier[1].max(later[1]);
            }
            overlaps
        });
        marks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word_terms(terms: &[&str]) -> Vec<Term> {
        terms
            .iter()
            .map(|word| Term::Word((*word).into()))
            .collect()
    }

    /// The language, golden: each query and what it says.
    #[test]
    fn queries_read_as_they_say() {
        let cases: Vec<(&str, Query)> = vec![
            (
                "deploy friday",
                Query {
                    terms: word_terms(&["deploy", "friday"]),
                    ..Query::default()
                },
            ),
            (
                "  \"red alert\"  now ",
                Query {
                    terms: vec![Term::Phrase("red alert".into()), Term::Word("now".into())],
                    ..Query::default()
                },
            ),
            (
                "deplo* from:Alice in:#Rust",
                Query {
                    terms: vec![Term::Prefix("deplo".into())],
                    from: Some("Alice".into()),
                    room: Some("rust".into()),
                },
            ),
            (
                "from:bob",
                Query {
                    from: Some("bob".into()),
                    ..Query::default()
                },
            ),
            (
                "世界 和平",
                Query {
                    terms: word_terms(&["世界", "和平"]),
                    ..Query::default()
                },
            ),
            (
                "\"你好 世界\"in:闲聊",
                Query {
                    terms: vec![Term::Phrase("你好 世界".into())],
                    room: Some("闲聊".into()),
                    ..Query::default()
                },
            ),
            (
                "\"  spaced   out \"",
                Query {
                    terms: vec![Term::Phrase("spaced out".into())],
                    ..Query::default()
                },
            ),
        ];
        for (q, expected) in cases {
            assert_eq!(Query::parse(q), Ok(expected), "{q}");
        }
    }

    #[test]
    fn bad_queries_say_why() {
        let too_long = "a".repeat(QUERY_MAX_CHARS + 1);
        let too_many = (0..=QUERY_MAX_TERMS)
            .map(|n| format!("w{n}"))
            .collect::<Vec<_>>()
            .join(" ");
        let cases: Vec<(&str, QueryError)> = vec![
            ("", QueryError::Empty),
            ("   ", QueryError::Empty),
            ("\"\"", QueryError::Empty),
            ("in:rust", QueryError::Empty),
            (&too_long, QueryError::TooLong),
            (&too_many, QueryError::TooManyTerms),
            ("\"red alert", QueryError::Unbalanced),
            ("red\"alert", QueryError::Unbalanced),
            ("*", QueryError::BarePrefix),
            ("de**", QueryError::BarePrefix),
            ("from:", QueryError::EmptyFilter("from:")),
            ("in: rust", QueryError::EmptyFilter("in:")),
            ("from:a from:b", QueryError::Repeated("from:")),
            ("x in:no/such", QueryError::BadRoom("no/such".into())),
        ];
        for (q, expected) in cases {
            assert_eq!(Query::parse(q), Err(expected), "{q:?}");
        }
        // The longest query is read.
        assert!(Query::parse(&"a".repeat(QUERY_MAX_CHARS)).is_ok());
    }

    #[test]
    fn in_may_repeat_the_room_asked_but_not_contradict_it() {
        let rust = Query::parse("deploy in:Rust").expect("a query");
        assert_eq!(
            Query::parse_in("deploy in:Rust", Some("rust")),
            Ok(rust.clone())
        );
        assert_eq!(
            Query::parse_in("deploy in:Rust", Some(" RUST ")),
            Ok(rust.clone())
        );
        assert_eq!(Query::parse_in("deploy in:Rust", None), Ok(rust));
        assert!(Query::parse_in("deploy", Some("lobby")).is_ok());
        assert_eq!(
            Query::parse_in("deploy in:rust", Some("lobby")),
            Err(QueryError::OtherRoom("rust".into(), "lobby".into()))
        );
    }

    #[cfg(feature = "unicode")]
    fn folded(text: &str) -> Vec<String> {
        words(text).into_iter().map(|word| word.folded).collect()
    }

    #[cfg(feature = "unicode")]
    #[test]
    fn words_are_folded_and_chinese_is_read_by_its_characters() {
        assert_eq!(
            folded("Café, CAFÉ and ｆｕｌｌ-width!"),
            ["cafe", "cafe", "and", "full", "width"]
        );
        assert_eq!(
            folded("你好世界 hello世界"),
            ["你", "好", "世", "界", "hello", "世", "界"]
        );
        assert_eq!(folded("Ünïcödé straße"), ["unicode", "straße"]);
        assert_eq!(folded("カタカナ"), ["カ", "タ", "カ", "ナ"]);
        let positions: Vec<_> = words("a 世界").iter().map(|w| (w.start, w.end)).collect();
        assert_eq!(positions, [(0, 1), (2, 3), (3, 4)]);
    }

    #[cfg(feature = "unicode")]
    #[test]
    fn hits_mark_what_the_query_found() {
        let marks = |q: &str, text: &str| Query::parse(q).expect("query").marks(text);
        assert_eq!(marks("cafe", "Le Café et le cafe"), [[3, 7], [14, 18]]);
        assert_eq!(marks("世界", "你好世界，世界和平"), [[2, 4], [5, 7]]);
        assert_eq!(marks("世", "世界"), [[0, 1]]);
        assert_eq!(marks("deplo*", "We deployed; deploy"), [[3, 11], [13, 19]]);
        assert_eq!(
            marks("\"red alert\"", "red, alert! not red or alert"),
            [[0, 10]]
        );
        assert_eq!(marks("red alert", "alert red"), [[0, 5], [6, 9]]);
        assert!(marks("from:bob", "anything").is_empty());
        // Overlapping terms make one mark.
        assert_eq!(marks("ab* abc", "abcd"), [[0, 4]]);
    }
}
