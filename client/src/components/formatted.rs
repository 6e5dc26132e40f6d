//! A message's text as the server formatted it (see `protocol::Block`):
//! the tree built into nodes, never into HTML markup. Without a tree, the
//! text as typed. Plain functions, not components: the message around
//! them renders only when it changes, and each component type costs the
//! client about 0.65 KB.

use protocol::{is_safe_link, Block, Inline};
use yew::prelude::*;

/// `msg` as `tree` formats it, or as typed.
pub fn formatted(msg: &str, tree: Option<&[Block]>) -> Html {
    match tree {
        None => html! { <p>{ msg }</p> },
        Some(blocks) => blocks.iter().map(block).collect(),
    }
}

fn block(block: &Block) -> Html {
    match block {
        Block::Paragraph(inlines) => html! { <p>{ for inlines.iter().map(inline) }</p> },
        // Focusable: a wide block scrolls, and the keyboard must reach it.
        Block::Code(code) => html! { <pre tabindex="0"><code>{ code }</code></pre> },
        Block::Quote(blocks) => {
            html! { <blockquote>{ for blocks.iter().map(self::block) }</blockquote> }
        }
        Block::List { start, items } => {
            let items = items
                .iter()
                .map(|item| html! { <li>{ for item.iter().map(self::block) }</li> });
            match start {
                Some(start) => html! { <ol start={start.to_string()}>{ for items }</ol> },
                None => html! { <ul>{ for items }</ul> },
            }
        }
    }
}

fn inline(inline: &Inline) -> Html {
    match inline {
        Inline::Text(text) => html! { { text } },
        Inline::Code(code) => html! { <code>{ code }</code> },
        Inline::Emphasis(inlines) => html! { <em>{ for inlines.iter().map(self::inline) }</em> },
        Inline::Strong(inlines) => {
            html! { <strong>{ for inlines.iter().map(self::inline) }</strong> }
        }
        Inline::Strikethrough(inlines) => {
            html! { <del>{ for inlines.iter().map(self::inline) }</del> }
        }
        // The server sends only safe links; checked again all the same,
        // since a tree is data from the network.
        Inline::Link { href, text } if is_safe_link(href) => html! {
            // Out of the tab order: the message list is one tab stop.
            <a href={href.clone()} target="_blank" rel="noopener noreferrer nofollow ugc" tabindex="-1">
                { for text.iter().map(self::inline) }
            </a>
        },
        Inline::Link { text, .. } => html! { <>{ for text.iter().map(self::inline) }</> },
        Inline::Break => html! { <br /> },
    }
}
