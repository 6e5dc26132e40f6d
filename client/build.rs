//! Compiles the UI's catalogues, `i18n/<language>.ftl` in Fluent's syntax,
//! into Rust (`$OUT_DIR/catalogue.rs`, included by `src/i18n.rs`).
//!
//! Why at build time: a Fluent runtime (`fluent-bundle` and its Unicode
//! tables) would cost the web client more than both catalogues together.
//! Here `fluent-syntax`, the reference parser, reads the files on the build
//! machine, and the client carries only the texts and one small filler.
//!
//! The build fails, naming the file and the message, when a catalogue does
//! not parse, when a message is in one language and not the other, when
//! their variables differ, or when a message uses Fluent beyond what the
//! filler does: text, `{ $variable }`, `{ "literal" }`, a term without
//! arguments (`{ -product }`), `{ NUMBER($count) }` (a number, shown as
//! its digits), and a selector on a number's plural category
//! or exact value (`{ $count -> [one] … *[other] … }`).
//!
//! A message without variables becomes a variant of `T` (`tr(T::SignIn)`);
//! one with variables a function of `t` taking them in the order the
//! English text first names them: a number where any language selects on
//! it or marks it with `NUMBER`, else a string (`t::purge_all(count, target, room)`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use fluent_syntax::ast;

/// The languages, in the order of `Lang`'s variants; English first: the
/// functions' variable order is English's.
const LANGUAGES: [(&str, &str); 2] = [("En", "en.ftl"), ("ZhCn", "zh-CN.ftl")];

/// The plural categories CLDR names (`Plural` in `src/i18n.rs`).
const CATEGORIES: [(&str, &str); 6] = [
    ("zero", "Zero"),
    ("one", "One"),
    ("two", "Two"),
    ("few", "Few"),
    ("many", "Many"),
    ("other", "Other"),
];

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    /// A variable; `true`: marked as a number (`NUMBER($max)`).
    Var(String, bool),
    Select {
        var: String,
        variants: Vec<(VariantKey, Vec<Node>)>,
        default: usize,
    },
}

#[derive(Debug, Clone)]
enum VariantKey {
    Exact(u64),
    Category(&'static str),
}

type Catalogue = BTreeMap<String, Vec<Node>>;

fn main() {
    let dir = Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("i18n");
    println!("cargo::rerun-if-changed=i18n");
    let catalogues: Vec<(&str, String, Catalogue, Vec<String>)> = LANGUAGES
        .iter()
        .map(|(variant, file)| {
            let path = dir.join(file);
            println!("cargo::rerun-if-changed={}", path.display());
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
            let (catalogue, order) = read(file, &text);
            (*variant, file.to_string(), catalogue, order)
        })
        .collect();
    let (_, english_file, english, order) = &catalogues[0];
    let mut errors = Vec::new();
    for (_, file, catalogue, _) in &catalogues[1..] {
        for id in english.keys() {
            if !catalogue.contains_key(id) {
                errors.push(format!(
                    "{file}: `{id}` is missing (it is in {english_file})"
                ));
            }
        }
        for id in catalogue.keys() {
            if !english.contains_key(id) {
                errors.push(format!("{file}: `{id}` is not in {english_file}"));
            }
        }
    }
    let mut kinds: BTreeMap<&str, Vec<(String, bool)>> = BTreeMap::new();
    for id in order {
        let mut vars = Vec::new();
        collect_vars(&english[id], &mut vars);
        let mut names: Vec<String> = Vec::new();
        for (name, _) in &vars {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        for (_, file, catalogue, _) in &catalogues[1..] {
            let Some(nodes) = catalogue.get(id) else {
                continue;
            };
            let mut theirs = Vec::new();
            collect_vars(nodes, &mut theirs);
            let mut their_names: Vec<&String> = theirs.iter().map(|(name, _)| name).collect();
            their_names.sort();
            their_names.dedup();
            let mut ours: Vec<&String> = names.iter().collect();
            ours.sort();
            if ours != their_names {
                errors.push(format!(
                    "{file}: `{id}` has the variables {their_names:?}, {english_file} {ours:?}"
                ));
            }
            vars.extend(theirs);
        }
        let typed = names
            .into_iter()
            .map(|name| {
                let number = vars.iter().any(|(var, selected)| *var == name && *selected);
                (name, number)
            })
            .collect();
        kinds.insert(id, typed);
    }
    if !errors.is_empty() {
        fail(&errors.join("\n"));
    }
    let out = generate(order, &kinds, &catalogues);
    let path = Path::new(&std::env::var("OUT_DIR").expect("cargo sets it")).join("catalogue.rs");
    std::fs::write(&path, out).unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
}

fn fail(why: &str) -> ! {
    panic!("\n\nThe UI's catalogues (client/i18n/*.ftl):\n{why}\n\n")
}

/// Where a catalogue breaks a rule: the file and the message.
struct At<'a> {
    file: &'a str,
    id: &'a str,
}

impl At<'_> {
    fn fail(&self, what: &str) -> ! {
        fail(&format!("{}: `{}`: {what}", self.file, self.id))
    }
}

/// A catalogue's messages, and their ids in the file's order.
fn read(file: &str, text: &str) -> (Catalogue, Vec<String>) {
    let resource = match fluent_syntax::parser::parse(text) {
        Ok(resource) => resource,
        Err((_, errors)) => {
            let lines: Vec<String> = errors
                .iter()
                .map(|error| {
                    let line = text[..error.pos.start.min(text.len())]
                        .lines()
                        .count()
                        .max(1);
                    format!("{file}:{line}: {:?}", error.kind)
                })
                .collect();
            fail(&lines.join("\n"))
        }
    };
    let mut terms: BTreeMap<&str, &ast::Pattern<&str>> = BTreeMap::new();
    for entry in &resource.body {
        if let ast::Entry::Term(term) = entry {
            terms.insert(term.id.name, &term.value);
        }
    }
    let mut catalogue = Catalogue::new();
    let mut order = Vec::new();
    for entry in &resource.body {
        let ast::Entry::Message(message) = entry else {
            continue;
        };
        let id = message.id.name;
        let at = At { file, id };
        if !message.attributes.is_empty() {
            at.fail("attributes (`.name = …`) are not used here: make each its own message");
        }
        let Some(value) = &message.value else {
            at.fail("has no text")
        };
        let nodes = pattern(value, &terms, &at);
        if catalogue.insert(id.to_owned(), nodes).is_some() {
            at.fail("is defined twice");
        }
        order.push(id.to_owned());
    }
    (catalogue, order)
}

fn pattern(
    value: &ast::Pattern<&str>,
    terms: &BTreeMap<&str, &ast::Pattern<&str>>,
    at: &At,
) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    let push_text = |nodes: &mut Vec<Node>, text: &str| match nodes.last_mut() {
        Some(Node::Text(last)) => last.push_str(text),
        _ => nodes.push(Node::Text(text.to_owned())),
    };
    for element in &value.elements {
        match element {
            ast::PatternElement::TextElement { value } => push_text(&mut nodes, value),
            ast::PatternElement::Placeable { expression } => match expression {
                ast::Expression::Inline(inline) => match inline {
                    ast::InlineExpression::VariableReference { id } => {
                        nodes.push(Node::Var(id.name.to_owned(), false))
                    }
                    ast::InlineExpression::FunctionReference { id, arguments }
                        if id.name == "NUMBER" && arguments.named.is_empty() =>
                    {
                        match arguments.positional.as_slice() {
                            [ast::InlineExpression::VariableReference { id }] => {
                                nodes.push(Node::Var(id.name.to_owned(), true))
                            }
                            _ => at.fail("NUMBER takes one variable: `{ NUMBER($count) }`"),
                        }
                    }
                    ast::InlineExpression::StringLiteral { value } => {
                        if value.contains('\\') {
                            at.fail("escapes in a string literal are not read here");
                        }
                        push_text(&mut nodes, value)
                    }
                    ast::InlineExpression::TermReference {
                        id,
                        attribute: None,
                        arguments: None,
                    } => {
                        let Some(term) = terms.get(id.name) else {
                            at.fail(&format!("no term `-{}`", id.name))
                        };
                        for node in pattern(term, terms, at) {
                            match node {
                                Node::Text(text) => push_text(&mut nodes, &text),
                                Node::Var(..) | Node::Select { .. } => {
                                    at.fail("a term used here must be plain text")
                                }
                            }
                        }
                    }
                    other => at.fail(&format!("not read here: {other:?}")),
                },
                ast::Expression::Select { selector, variants } => {
                    let ast::InlineExpression::VariableReference { id } = selector else {
                        at.fail("a selector must be a variable: `{ $count -> … }`")
                    };
                    let mut read = Vec::new();
                    let mut default = None;
                    for (index, variant) in variants.iter().enumerate() {
                        let key = match &variant.key {
                            ast::VariantKey::Identifier { name } => VariantKey::Category(
                                CATEGORIES
                                    .iter()
                                    .find(|(cldr, _)| cldr == name)
                                    .map(|(_, rust)| *rust)
                                    .unwrap_or_else(|| {
                                        at.fail(&format!(
                                            "`[{name}]` is not a plural category (zero, one, two, few, many, other)"
                                        ))
                                    }),
                            ),
                            ast::VariantKey::NumberLiteral { value } => {
                                VariantKey::Exact(value.parse().unwrap_or_else(|_| {
                                    at.fail(&format!("`[{value}]`: only whole numbers"))
                                }))
                            }
                        };
                        if variant.default {
                            default = Some(index);
                        }
                        read.push((key, pattern(&variant.value, terms, at)));
                    }
                    nodes.push(Node::Select {
                        var: id.name.to_owned(),
                        variants: read,
                        default: default
                            .unwrap_or_else(|| at.fail("a selector needs a `*[default]`")),
                    });
                }
            },
        }
    }
    nodes
}

/// Each variable `nodes` name, and whether it is selected on.
fn collect_vars(nodes: &[Node], into: &mut Vec<(String, bool)>) {
    for node in nodes {
        match node {
            Node::Text(_) => {}
            Node::Var(name, number) => into.push((name.clone(), *number)),
            Node::Select { var, variants, .. } => {
                into.push((var.clone(), true));
                for (_, nodes) in variants {
                    collect_vars(nodes, into);
                }
            }
        }
    }
}

/// `text` as inside a Rust string literal: its control characters as
/// `\u{…}` (the packed form's, and the NUL that ends each message, which
/// `{:?}` would write as an octal-looking `\0`).
fn escaped(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => write!(out, "\\u{{{:x}}}", u32::from(c)).unwrap(),
            c => out.push(c),
        }
    }
    out
}

/// `login-title` as `LoginTitle`.
fn camel(id: &str) -> String {
    id.split(['-', '_'])
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `purge-all` as `purge_all`.
fn snake(id: &str) -> String {
    id.replace('-', "_")
}

/// A message in the packed form `src/i18n.rs` fills: its text, a variable
/// as `\x01` and its place, a selector as `\x02`, its place, then each
/// variant as `\x03` key `\x04` text (the key `=N` for an exact number, a
/// `*` before the default's), and `\x05`.
fn packed(nodes: &[Node], vars: &[(String, bool)], at: &At) -> String {
    let mut out = String::new();
    for node in nodes {
        match node {
            Node::Text(text) => {
                if text.chars().any(|c| c < '\u{6}') {
                    at.fail("control characters are not text");
                }
                out.push_str(text)
            }
            Node::Var(name, _) => {
                out.push('\u{1}');
                out.push(place(vars, name));
            }
            Node::Select {
                var,
                variants,
                default,
            } => {
                out.push('\u{2}');
                out.push(place(vars, var));
                for (index, (key, nodes)) in variants.iter().enumerate() {
                    if nodes.iter().any(|node| matches!(node, Node::Select { .. })) {
                        at.fail("a selector inside a selector: write each variant whole");
                    }
                    out.push('\u{3}');
                    if index == *default {
                        out.push('*');
                    }
                    match key {
                        VariantKey::Exact(n) => write!(out, "={n}").unwrap(),
                        VariantKey::Category(category) => out.push_str(&category.to_lowercase()),
                    }
                    out.push('\u{4}');
                    out.push_str(&packed(nodes, vars, at));
                }
                out.push('\u{5}');
            }
        }
    }
    out
}

/// A variable's place among the function's arguments, as one character.
fn place(vars: &[(String, bool)], name: &str) -> char {
    char::from(b'0' + u8::try_from(index(vars, name)).expect("few variables"))
}

fn index(vars: &[(String, bool)], name: &str) -> usize {
    vars.iter()
        .position(|(var, _)| var == name)
        .expect("collected")
}

fn english_text(nodes: &[Node]) -> String {
    let mut out = String::new();
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Var(name, _) => write!(out, "{{${name}}}").unwrap(),
            Node::Select { var, .. } => write!(out, "{{${var} -> …}}").unwrap(),
        }
    }
    out.replace('\n', " ")
}

fn generate(
    order: &[String],
    kinds: &BTreeMap<&str, Vec<(String, bool)>>,
    catalogues: &[(&str, String, Catalogue, Vec<String>)],
) -> String {
    // Plain messages first: `T`'s values are their places, `F`'s follow.
    let plain: Vec<&String> = order
        .iter()
        .filter(|id| kinds[id.as_str()].is_empty())
        .collect();
    let filled: Vec<&String> = order
        .iter()
        .filter(|id| !kinds[id.as_str()].is_empty())
        .collect();
    let english = &catalogues[0].2;
    let mut out =
        String::from("// Generated by client/build.rs from client/i18n/*.ftl: edit those.\n\n");

    out.push_str("/// The catalogues' texts without variables: `tr(T::…)`.\n");
    out.push_str("#[derive(Clone, Copy, Debug, PartialEq, Eq)]\npub(crate) enum T {\n");
    for id in &plain {
        writeln!(out, "    /// `{id}`: {}", english_text(&english[*id])).unwrap();
        writeln!(out, "    {},", camel(id)).unwrap();
    }
    out.push_str("}\n\n");
    out.push_str("/// The catalogues' messages with variables, filled by `t`'s functions.\n");
    out.push_str("#[derive(Clone, Copy, Debug, PartialEq, Eq)]\nenum F {\n");
    for (index, id) in filled.iter().enumerate() {
        writeln!(out, "    {} = {},", camel(id), plain.len() + index).unwrap();
    }
    out.push_str("}\n\n");

    // Each language's messages as one string, each ended by a NUL: a
    // table of pointers, or even of offsets, would cost the client more
    // than the page finding them once (`src/i18n.rs`'s `message`).
    writeln!(out, "const TEXTS: [&str; {}] = [", catalogues.len()).unwrap();
    for (_, file, catalogue, _) in catalogues {
        let mut text = String::new();
        for id in plain.iter().chain(&filled) {
            let at_message = At { file, id };
            text.push_str(&packed(&catalogue[*id], &kinds[id.as_str()], &at_message));
            text.push('\0');
        }
        writeln!(out, "    \"{}\",", escaped(&text)).unwrap();
    }
    out.push_str("];\n\n");

    out.push_str("/// The catalogues' messages with variables.\npub(crate) mod t {\n    use super::{fill, Arg, F};\n\n");
    for id in &filled {
        let vars = &kinds[id.as_str()];
        writeln!(out, "    /// `{id}`: {}", english_text(&english[*id])).unwrap();
        let params: Vec<String> = vars
            .iter()
            .map(|(name, number)| {
                format!("{}: {}", snake(name), if *number { "u64" } else { "&str" })
            })
            .collect();
        let args: Vec<String> = vars
            .iter()
            .map(|(name, number)| {
                format!(
                    "Arg::{}({})",
                    if *number { "Num" } else { "Str" },
                    snake(name)
                )
            })
            .collect();
        writeln!(
            out,
            "    #[inline(never)]\n    pub(crate) fn {}({}) -> String {{\n        fill(F::{}, &[{}])\n    }}\n",
            snake(id),
            params.join(", "),
            camel(id),
            args.join(", ")
        )
        .unwrap();
    }
    out.push_str("}\n\n");

    out.push_str("/// Each message's id, and how the code names it: for the test that\n/// every message is used.\n#[cfg(test)]\npub(crate) const USES: &[(&str, &str)] = &[\n");
    for id in &plain {
        writeln!(out, "    ({id:?}, \"T::{}\"),", camel(id)).unwrap();
    }
    for id in &filled {
        writeln!(out, "    ({id:?}, \"t::{}\"),", snake(id)).unwrap();
    }
    out.push_str("];\n");
    out
}
