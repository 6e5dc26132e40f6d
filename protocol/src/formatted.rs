//! A message's formatted text: a safe subset of CommonMark, as a tree.
//!
//! The server reads each message's Markdown once, with pulldown-cmark, and
//! sends the tree beside the text (`formatted`); clients build their view
//! from the tree and never parse Markdown or write HTML. So every client
//! shows a message the same way, and the web client does not carry a
//! Markdown parser (it would double its size).
//!
//! The tree has only what a chat message may show: paragraphs, code
//! blocks, block quotes and lists; text, inline code, emphasis, strong,
//! strikethrough, line breaks and links. A link goes only to an `http:`,
//! `https:` or `mailto:` address; any other (`javascript:`, `data:`) is
//! its words and its address, as text. Bare `http(s)://` addresses are
//! links. Raw HTML is text, as typed; headings are paragraphs of their
//! words (a chat, not a document); an image is its description.
//!
//! The tree is bounded as it is built, so that no message costs every
//! reader (and every room's window) more than its text: elements nested
//! deeper than [`FORMATTED_MAX_DEPTH`] give their words to the element
//! around them, and a message of more than [`FORMATTED_MAX_NODES`]
//! elements is shown as its plain text. Without the bound, 2,000 `>` made
//! a JSON value 4,000 deep, which a client's decoder refuses along with the
//! page of history around it.

use serde::Serialize;

/// A block of a message.
/// Decoded by hand (`decode.rs`), for the web client's size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Block {
    #[serde(rename = "p")]
    Paragraph(Vec<Inline>),
    /// A code block: monospace, as typed.
    #[serde(rename = "code")]
    Code(String),
    #[serde(rename = "quote")]
    Quote(Vec<Block>),
    /// A list; numbered from `start` when it has one.
    #[serde(rename = "list")]
    List {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        start: Option<u64>,
        items: Vec<Vec<Block>>,
    },
}

/// A run of a block's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Inline {
    #[serde(rename = "t")]
    Text(String),
    #[serde(rename = "code")]
    Code(String),
    #[serde(rename = "em")]
    Emphasis(Vec<Inline>),
    #[serde(rename = "strong")]
    Strong(Vec<Inline>),
    #[serde(rename = "del")]
    Strikethrough(Vec<Inline>),
    /// A link to `href`: always `http:`, `https:` or `mailto:`.
    #[serde(rename = "a")]
    Link { href: String, text: Vec<Inline> },
    #[serde(rename = "br")]
    Break,
}

/// How deep elements nest in a tree: a quote in a list in a quote is 3
/// (and each item of a list one more). Deeper elements are their words.
pub const FORMATTED_MAX_DEPTH: usize = 8;
/// Most elements (blocks, runs of text, breaks) in one message's tree;
/// a message that would need more is shown as its plain text.
pub const FORMATTED_MAX_NODES: usize = 256;

impl Block {
    /// How deep its elements nest: 1 for a paragraph of plain text.
    pub fn depth(&self) -> usize {
        1 + match self {
            Self::Paragraph(inlines) => inlines.iter().map(Inline::depth).max().unwrap_or(0),
            Self::Code(_) => 0,
            Self::Quote(blocks) => blocks.iter().map(Self::depth).max().unwrap_or(0),
            Self::List { items, .. } => items
                .iter()
                .flatten()
                .map(|block| 1 + block.depth())
                .max()
                .unwrap_or(0),
        }
    }

    /// How many elements it holds, itself included (a list's items
    /// counted as elements).
    pub fn nodes(&self) -> usize {
        1 + match self {
            Self::Paragraph(inlines) => inlines.iter().map(Inline::nodes).sum(),
            Self::Code(_) => 0,
            Self::Quote(blocks) => blocks.iter().map(Self::nodes).sum(),
            Self::List { items, .. } => items
                .iter()
                .map(|item| 1 + item.iter().map(Self::nodes).sum::<usize>())
                .sum(),
        }
    }
}

impl Inline {
    /// How deep its elements nest: 1 for a run of text.
    pub fn depth(&self) -> usize {
        1 + match self {
            Self::Text(_) | Self::Code(_) | Self::Break => 0,
            Self::Emphasis(inlines)
            | Self::Strong(inlines)
            | Self::Strikethrough(inlines)
            | Self::Link { text: inlines, .. } => {
                inlines.iter().map(Self::depth).max().unwrap_or(0)
            }
        }
    }

    /// How many elements it holds, itself included.
    pub fn nodes(&self) -> usize {
        1 + match self {
            Self::Text(_) | Self::Code(_) | Self::Break => 0,
            Self::Emphasis(inlines)
            | Self::Strong(inlines)
            | Self::Strikethrough(inlines)
            | Self::Link { text: inlines, .. } => inlines.iter().map(Self::nodes).sum(),
        }
    }
}

/// What a link may point at.
const LINK_SCHEMES: [&str; 3] = ["http://", "https://", "mailto:"];

/// Whether a link may go to `address`: the web or mail, nothing a browser
/// would run.
pub fn is_safe_link(address: &str) -> bool {
    LINK_SCHEMES.iter().any(|scheme| {
        address
            .get(..scheme.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(scheme))
    })
}

#[cfg(feature = "markdown")]
pub use parse::formatted;

#[cfg(feature = "markdown")]
mod parse {
    use pulldown_cmark::{Event, Options, Parser, Tag};

    use super::{is_safe_link, Block, Inline, FORMATTED_MAX_DEPTH, FORMATTED_MAX_NODES};

    /// `msg`'s tree, or `None` when it would show exactly as its plain
    /// text (one paragraph, no formatting, no link): most messages, which
    /// then carry nothing more. Also `None` when the tree would hold more
    /// than [`FORMATTED_MAX_NODES`] elements: the plain text shows it all.
    pub fn formatted(msg: &str) -> Option<Vec<Block>> {
        let mut builder = Builder::default();
        for event in Parser::new_ext(msg, Options::ENABLE_STRIKETHROUGH) {
            builder.event(event);
            // Counted as made: the tree is never larger, and building
            // stops as soon as it would be too large.
            if builder.nodes > FORMATTED_MAX_NODES {
                return None;
            }
        }
        let blocks = builder.finish();
        if !within_bounds(&blocks) {
            return None;
        }
        let plain = match blocks.as_slice() {
            [] => true,
            [Block::Paragraph(inlines)] => inlines
                .iter()
                .all(|inline| matches!(inline, Inline::Text(_) | Inline::Break)),
            _ => false,
        };
        // Plain, unless Markdown changed the words (an escape, an entity).
        let same_words = plain && text_of(&blocks) == msg.replace('\n', "");
        (!same_words).then_some(blocks)
    }

    /// Whether a finished tree is within both bounds (the builder keeps
    /// the depth; this is the rule as written, checked once).
    fn within_bounds(blocks: &[Block]) -> bool {
        blocks.iter().map(Block::nodes).sum::<usize>() <= FORMATTED_MAX_NODES
            && blocks
                .iter()
                .all(|block| block.depth() <= FORMATTED_MAX_DEPTH)
    }

    fn text_of(blocks: &[Block]) -> String {
        let mut text = String::new();
        for block in blocks {
            if let Block::Paragraph(inlines) = block {
                for inline in inlines {
                    if let Inline::Text(words) = inline {
                        text.push_str(words);
                    }
                }
            }
        }
        text
    }

    /// An element being built, and what it holds so far.
    enum Open {
        Blocks(BlockKind, Vec<Block>),
        Inlines(InlineKind, Vec<Inline>),
    }

    enum BlockKind {
        Root,
        Quote,
        Item,
        List(Option<u64>, Vec<Vec<Block>>),
    }

    enum InlineKind {
        Paragraph,
        CodeBlock,
        Emphasis,
        Strong,
        Strikethrough,
        Link(String),
        /// A link to an address that may not be one: its words, then the
        /// address, as text.
        NotALink(String),
        /// Contents go to the element around (an image's description).
        Transparent,
    }

    struct Builder {
        stack: Vec<Open>,
        /// How many elements of `stack` nest (those that give their
        /// contents to the element around do not).
        depth: usize,
        /// Elements made so far.
        nodes: usize,
        /// Text not yet added: the parser hands a run of text over in
        /// pieces (split where emphasis might have begun), and a bare
        /// address is found in the whole run.
        text: String,
    }

    impl Default for Builder {
        fn default() -> Self {
            Self {
                stack: vec![Open::Blocks(BlockKind::Root, Vec::new())],
                depth: 0,
                nodes: 0,
                text: String::new(),
            }
        }
    }

    impl Builder {
        // pulldown-cmark's own enums: what its syntax adds (math,
        // footnotes, ...) is not enabled here, and falls to the default.
        #[allow(clippy::wildcard_enum_match_arm)]
        fn event(&mut self, event: Event<'_>) {
            if let Event::Text(text) = &event {
                self.text.push_str(text);
                return;
            }
            self.add_text();
            match event {
                Event::Start(tag) => self.open(tag),
                Event::End(_) => self.close(),
                Event::Text(_) => {}
                Event::Code(code) => self.inline(Inline::Code(code.into_string())),
                // Raw HTML is the text it is.
                Event::Html(markup) | Event::InlineHtml(markup) => {
                    self.inline(Inline::Text(markup.into_string()));
                }
                Event::SoftBreak | Event::HardBreak => self.inline(Inline::Break),
                Event::Rule => self.block(Block::Paragraph(vec![Inline::Text("---".into())])),
                // Not enabled: footnotes, task lists, math, metadata.
                _ => {}
            }
        }

        #[allow(clippy::wildcard_enum_match_arm)]
        fn open(&mut self, tag: Tag<'_>) {
            // Room for the element, and for what it will hold at the
            // least: a run of text (a leaf), or in a quote a paragraph and
            // its text; a list opens with room for its items' paragraphs,
            // and an item opens only in a list that did.
            let needs = match tag {
                Tag::List(_) => 4,
                Tag::BlockQuote(_) => 3,
                Tag::Item => {
                    let in_list = matches!(
                        self.stack.last(),
                        Some(Open::Blocks(BlockKind::List(..), _))
                    );
                    if in_list {
                        0
                    } else {
                        usize::MAX
                    }
                }
                _ => 2,
            };
            if self.depth.saturating_add(needs) > FORMATTED_MAX_DEPTH {
                self.stack
                    .push(Open::Inlines(InlineKind::Transparent, Vec::new()));
                return;
            }
            let open = match tag {
                // A heading is a paragraph of its words.
                Tag::Paragraph | Tag::Heading { .. } => {
                    Open::Inlines(InlineKind::Paragraph, Vec::new())
                }
                Tag::CodeBlock(_) => Open::Inlines(InlineKind::CodeBlock, Vec::new()),
                Tag::Emphasis => Open::Inlines(InlineKind::Emphasis, Vec::new()),
                Tag::Strong => Open::Inlines(InlineKind::Strong, Vec::new()),
                Tag::Strikethrough => Open::Inlines(InlineKind::Strikethrough, Vec::new()),
                Tag::Link { dest_url, .. } if is_safe_link(dest_url.trim()) => {
                    Open::Inlines(InlineKind::Link(dest_url.trim().to_owned()), Vec::new())
                }
                Tag::Link { dest_url, .. } => {
                    Open::Inlines(InlineKind::NotALink(dest_url.into_string()), Vec::new())
                }
                Tag::BlockQuote(_) => Open::Blocks(BlockKind::Quote, Vec::new()),
                Tag::List(start) => Open::Blocks(BlockKind::List(start, Vec::new()), Vec::new()),
                Tag::Item => Open::Blocks(BlockKind::Item, Vec::new()),
                // An image's description, and what is not enabled (tables,
                // footnotes): their contents go to the element around.
                _ => Open::Inlines(InlineKind::Transparent, Vec::new()),
            };
            if nests(&open) {
                self.depth += 1;
            }
            self.stack.push(open);
        }

        fn close(&mut self) {
            if self.stack.len() < 2 {
                return;
            }
            let open = self.stack.pop();
            if open.as_ref().is_some_and(nests) {
                self.depth -= 1;
            }
            match open {
                Some(Open::Inlines(kind, inlines)) => match kind {
                    InlineKind::Paragraph => self.block(Block::Paragraph(inlines)),
                    InlineKind::CodeBlock => {
                        let code = inlines
                            .into_iter()
                            .map(|inline| match inline {
                                Inline::Text(text) => text,
                                Inline::Code(_)
                                | Inline::Emphasis(_)
                                | Inline::Strong(_)
                                | Inline::Strikethrough(_)
                                | Inline::Link { .. }
                                | Inline::Break => String::new(),
                            })
                            .collect::<String>();
                        let code = code.strip_suffix('\n').unwrap_or(&code).to_owned();
                        self.block(Block::Code(code));
                    }
                    InlineKind::Emphasis => self.inline(Inline::Emphasis(inlines)),
                    InlineKind::Strong => self.inline(Inline::Strong(inlines)),
                    InlineKind::Strikethrough => self.inline(Inline::Strikethrough(inlines)),
                    InlineKind::Link(href) => self.inline(Inline::Link {
                        href,
                        text: inlines,
                    }),
                    InlineKind::NotALink(address) => {
                        for inline in inlines {
                            self.give(inline);
                        }
                        self.inline(Inline::Text(format!(" ({address})")));
                    }
                    InlineKind::Transparent => {
                        for inline in inlines {
                            self.give(inline);
                        }
                    }
                },
                Some(Open::Blocks(kind, blocks)) => match kind {
                    BlockKind::Root => {}
                    BlockKind::Quote => self.block(Block::Quote(blocks)),
                    BlockKind::Item => {
                        if let Some(Open::Blocks(BlockKind::List(_, items), _)) =
                            self.stack.last_mut()
                        {
                            items.push(blocks);
                        }
                    }
                    BlockKind::List(start, items) => self.block(Block::List { start, items }),
                },
                None => {}
            }
        }

        /// Adds the run of text gathered so far, its bare addresses as
        /// links (outside code and links).
        fn add_text(&mut self) {
            if self.text.is_empty() {
                return;
            }
            let text = std::mem::take(&mut self.text);
            if self.in_code_block() || self.in_link() {
                self.inline(Inline::Text(text));
            } else {
                for inline in bare_links(&text) {
                    self.inline(inline);
                }
            }
        }

        fn in_code_block(&self) -> bool {
            matches!(
                self.stack.last(),
                Some(Open::Inlines(InlineKind::CodeBlock, _))
            )
        }

        fn in_link(&self) -> bool {
            self.stack.iter().any(|open| {
                matches!(
                    open,
                    Open::Inlines(InlineKind::Link(_) | InlineKind::NotALink(_), _)
                )
            })
        }

        /// Adds a run of text where it goes: to the open inline element,
        /// or (a tight list's item has no paragraph) to a paragraph of its
        /// own.
        fn inline(&mut self, inline: Inline) {
            self.nodes += 1;
            self.give(inline);
        }

        /// Adds a run made before (the contents of an element that gives
        /// them to the one around it), counted already.
        fn give(&mut self, inline: Inline) {
            match self.stack.last_mut() {
                Some(Open::Inlines(_, inlines)) => inlines.push(inline),
                Some(Open::Blocks(_, blocks)) => match blocks.last_mut() {
                    Some(Block::Paragraph(inlines)) => inlines.push(inline),
                    _ => blocks.push(Block::Paragraph(vec![inline])),
                },
                None => {}
            }
        }

        fn block(&mut self, block: Block) {
            self.nodes += 1;
            for open in self.stack.iter_mut().rev() {
                if let Open::Blocks(_, blocks) = open {
                    blocks.push(block);
                    return;
                }
            }
        }

        fn finish(mut self) -> Vec<Block> {
            self.add_text();
            while self.stack.len() > 1 {
                self.close();
            }
            match self.stack.pop() {
                Some(Open::Blocks(_, blocks)) => blocks,
                _ => Vec::new(),
            }
        }
    }

    /// Whether an element being built nests (its contents one level
    /// deeper), rather than giving them to the element around it.
    fn nests(open: &Open) -> bool {
        match open {
            Open::Blocks(kind, _) => match kind {
                BlockKind::Root => false,
                BlockKind::Quote | BlockKind::Item | BlockKind::List(..) => true,
            },
            Open::Inlines(kind, _) => match kind {
                InlineKind::NotALink(_) | InlineKind::Transparent => false,
                InlineKind::Paragraph
                | InlineKind::CodeBlock
                | InlineKind::Emphasis
                | InlineKind::Strong
                | InlineKind::Strikethrough
                | InlineKind::Link(_) => true,
            },
        }
    }

    /// Splits `text` at its bare `http://` and `https://` addresses: each
    /// starts a word and runs to the next space, less the punctuation that
    /// ends a sentence (and a closing parenthesis it did not open).
    pub(super) fn bare_links(text: &str) -> Vec<Inline> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(start) = next_address(rest) {
            let after = &rest[start..];
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            let address = trim_address(&after[..end]);
            if start > 0 {
                pieces.push(Inline::Text(rest[..start].to_owned()));
            }
            let scheme_only = address.ends_with("://");
            pieces.push(if scheme_only {
                Inline::Text(address.to_owned())
            } else {
                Inline::Link {
                    href: address.to_owned(),
                    text: vec![Inline::Text(address.to_owned())],
                }
            });
            rest = &rest[start + address.len()..];
        }
        if !rest.is_empty() {
            pieces.push(Inline::Text(rest.to_owned()));
        }
        pieces
    }

    /// An address without the punctuation after it.
    fn trim_address(mut address: &str) -> &str {
        loop {
            let trimmed = address.trim_end_matches(['.', ',', ':', ';', '!', '?', '"', '\'']);
            let opened = trimmed.matches('(').count();
            let unbalanced = trimmed.ends_with(')') && opened < trimmed.matches(')').count();
            address = if unbalanced {
                &trimmed[..trimmed.len() - 1]
            } else {
                trimmed
            };
            if !unbalanced {
                return address;
            }
        }
    }

    /// Where the next bare address starts in `text`: `http://` or
    /// `https://` at the start of a word.
    fn next_address(text: &str) -> Option<usize> {
        let mut from = 0;
        while let Some(found) = text[from..].find("http") {
            let at = from + found;
            let starts_word = text[..at]
                .chars()
                .next_back()
                .is_none_or(|before| !before.is_alphanumeric());
            let rest = &text[at..];
            if starts_word && (rest.starts_with("http://") || rest.starts_with("https://")) {
                return Some(at);
            }
            from = at + "http".len();
        }
        None
    }
}

#[cfg(all(test, feature = "markdown"))]
mod tests {
    use super::*;

    fn t(text: &str) -> Inline {
        Inline::Text(text.into())
    }

    fn p(inlines: Vec<Inline>) -> Block {
        Block::Paragraph(inlines)
    }

    #[test]
    fn plain_text_carries_no_tree() {
        assert_eq!(formatted("hello there"), None);
        assert_eq!(formatted("two\nlines"), None);
        assert_eq!(formatted("2 * 3 = 6, a_b"), None);
        assert_eq!(formatted("闲聊 🦀"), None);
    }

    #[test]
    fn the_subset_is_formatted() {
        let tree = formatted("*em* **strong** ~~gone~~ `code`").expect("formatted");
        assert_eq!(
            tree,
            [p(vec![
                Inline::Emphasis(vec![t("em")]),
                t(" "),
                Inline::Strong(vec![t("strong")]),
                t(" "),
                Inline::Strikethrough(vec![t("gone")]),
                t(" "),
                Inline::Code("code".into()),
            ])]
        );
        let tree = formatted("```\nfn main() {}\n  indented\n```").expect("formatted");
        assert_eq!(tree, [Block::Code("fn main() {}\n  indented".into())]);
        let tree = formatted("> quoted\n\n- one\n- two\n\n3. three").expect("formatted");
        assert_eq!(
            tree,
            [
                Block::Quote(vec![p(vec![t("quoted")])]),
                Block::List {
                    start: None,
                    items: vec![vec![p(vec![t("one")])], vec![p(vec![t("two")])]],
                },
                Block::List {
                    start: Some(3),
                    items: vec![vec![p(vec![t("three")])]],
                },
            ]
        );
    }

    #[test]
    fn only_web_and_mail_links_are_links() {
        let tree =
            formatted("[x](javascript:alert(1)) [y](https://e.example/)").expect("formatted");
        assert_eq!(
            tree,
            [p(vec![
                t("x"),
                t(" (javascript:alert(1))"),
                t(" "),
                Inline::Link {
                    href: "https://e.example/".into(),
                    text: vec![t("y")],
                },
            ])]
        );
        for unsafe_link in [
            "JavaScript:alert(1)",
            "data:text/html,<b>",
            "/relative",
            "ftp://x",
        ] {
            assert!(!is_safe_link(unsafe_link), "{unsafe_link}");
        }
        assert!(is_safe_link("MAILTO:a@b.example"));
    }

    #[test]
    fn raw_html_headings_and_images_are_text() {
        // Shown as typed: nothing to format.
        assert_eq!(formatted("<img src=x onerror=alert(1)> and <b>b</b>"), None);
        assert_eq!(
            formatted("*x* <img src=x onerror=alert(1)>"),
            Some(vec![p(vec![
                Inline::Emphasis(vec![t("x")]),
                t(" "),
                t("<img src=x onerror=alert(1)>"),
            ])])
        );
        assert_eq!(formatted("# Big"), Some(vec![p(vec![t("Big")])]));
        assert_eq!(
            formatted("![a cat](https://e.example/cat.png)"),
            Some(vec![p(vec![t("a cat")])])
        );
    }

    #[test]
    fn bare_addresses_are_links_without_the_sentence_s_end() {
        let tree = formatted("see https://a.example/x?y=1, and (https://w.example/R_(l)).")
            .expect("formatted");
        let link = |href: &str| Inline::Link {
            href: href.into(),
            text: vec![t(href)],
        };
        assert_eq!(
            tree,
            [p(vec![
                t("see "),
                link("https://a.example/x?y=1"),
                t(", and ("),
                link("https://w.example/R_(l)"),
                t(")."),
            ])]
        );
        assert_eq!(formatted("xhttps://no"), None);
    }

    /// The attack: 2,000 `>` (and lists and emphasis nested as deep as
    /// the text allows) give a tree within the bounds, its words kept.
    #[test]
    fn deep_nesting_is_flattened_to_its_words() {
        let quotes = format!("{} deep", ">".repeat(1_990));
        let tree = formatted(&quotes).expect("quoted");
        assert!(tree
            .iter()
            .all(|block| block.depth() <= FORMATTED_MAX_DEPTH));
        assert_eq!(words(&tree), "deep");
        let lists: String = (0..60)
            .map(|level| format!("{}- {level}\n", "  ".repeat(level)))
            .collect();
        let tree = formatted(&lists).expect("a list");
        assert!(tree
            .iter()
            .all(|block| block.depth() <= FORMATTED_MAX_DEPTH));
        let every: Vec<String> = (0..60).map(|level| level.to_string()).collect();
        assert_eq!(words(&tree), every.concat(), "no item's words lost");
        let emphasis = format!("{}x{}", "*_".repeat(400), "_*".repeat(400));
        if let Some(tree) = formatted(&emphasis) {
            assert!(tree
                .iter()
                .all(|block| block.depth() <= FORMATTED_MAX_DEPTH));
        }
        // Within the bound, nesting is kept as it is.
        let tree = formatted("> > quoted twice").expect("quoted");
        assert_eq!(
            tree,
            [Block::Quote(vec![Block::Quote(vec![p(vec![t(
                "quoted twice"
            )])])])]
        );
    }

    #[test]
    fn a_tree_of_too_many_elements_is_plain_text() {
        let many = "*a* ".repeat(FORMATTED_MAX_NODES);
        assert_eq!(formatted(&many), None);
        let few = "*a* ".repeat(FORMATTED_MAX_NODES / 4);
        assert!(formatted(&few).is_some());
    }

    /// Every word of a tree, in order (breaks and code left out).
    fn words(blocks: &[Block]) -> String {
        fn inline_words(inline: &Inline, out: &mut String) {
            match inline {
                Inline::Text(text) => out.push_str(text.trim()),
                Inline::Code(_) | Inline::Break => {}
                Inline::Emphasis(inlines)
                | Inline::Strong(inlines)
                | Inline::Strikethrough(inlines)
                | Inline::Link { text: inlines, .. } => {
                    inlines.iter().for_each(|inline| inline_words(inline, out));
                }
            }
        }
        fn block_words(block: &Block, out: &mut String) {
            match block {
                Block::Paragraph(inlines) => {
                    inlines.iter().for_each(|inline| inline_words(inline, out));
                }
                Block::Code(_) => {}
                Block::Quote(blocks) => blocks.iter().for_each(|block| block_words(block, out)),
                Block::List { items, .. } => items
                    .iter()
                    .flatten()
                    .for_each(|block| block_words(block, out)),
            }
        }
        let mut out = String::new();
        blocks.iter().for_each(|block| block_words(block, &mut out));
        out
    }

    mod bounds {
        use proptest::prelude::*;

        use super::super::*;

        /// Pieces of Markdown that open, nest and close elements.
        fn piece() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec![
                ">",
                "> ",
                "- ",
                "1. ",
                "  ",
                "    ",
                "*",
                "**",
                "_",
                "~~",
                "`",
                "[",
                "](",
                "https://e.example/",
                ")",
                "\n",
                "\n\n",
                "a",
                "word ",
                "<b>",
                "#",
                "```\n",
            ])
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]
            #[test]
            fn trees_stay_within_depth_and_size(pieces in prop::collection::vec(piece(), 0..600)) {
                let msg: String = pieces.concat();
                if let Some(tree) = formatted(&msg) {
                    let nodes: usize = tree.iter().map(Block::nodes).sum();
                    prop_assert!(nodes <= FORMATTED_MAX_NODES, "{nodes} elements");
                    for block in &tree {
                        prop_assert!(block.depth() <= FORMATTED_MAX_DEPTH, "depth {}", block.depth());
                    }
                    // The JSON a client decodes stays far from its decoder's
                    // limit of 128 (a list level is 4 JSON levels).
                    let json = serde_json::to_string(&tree).expect("serializes");
                    prop_assert!(json_depth(&json) <= 4 * FORMATTED_MAX_DEPTH + 2);
                }
            }
        }

        fn json_depth(json: &str) -> usize {
            let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
            for c in json.chars() {
                match (in_string, escaped, c) {
                    (true, true, _) => escaped = false,
                    (true, false, '\\') => escaped = true,
                    (true, false, '"') => in_string = false,
                    (false, _, '"') => in_string = true,
                    (false, _, '[' | '{') => {
                        depth += 1;
                        deepest = deepest.max(depth);
                    }
                    (false, _, ']' | '}') => depth -= 1,
                    _ => {}
                }
            }
            deepest
        }
    }
}
