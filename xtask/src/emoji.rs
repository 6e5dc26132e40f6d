//! The reaction picker's emoji, as data beside the client rather than in
//! it: the client fetches the file when its picker first opens (most page
//! loads never do), and the service worker keeps it for offline use (its
//! name carries a content hash, as the other assets' do).
//!
//! It comes from the `emojis` crate (Unicode CLDR names, GitHub's
//! shortcodes), the one the server checks reactions with
//! (`protocol::canonical_emoji`): the picker offers what the server takes.
//! Skin-tone variants are left out (the crate's own default).
//!
//! The format, read by `client/src/components/emoji_picker.rs`:
//! `[[group, [[emoji, name, "shortcode other"], ...]], ...]`, groups in
//! CLDR order, named as CLDR names them.

use std::path::Path;

use sha2::{Digest, Sha384};

use crate::Result;

/// One emoji as written: itself, its name, its shortcodes.
type Entry = (&'static str, &'static str, String);

/// Writes `emoji-<hash>.json` into `dist` and returns its name.
pub(crate) fn write(dist: &Path) -> Result<String> {
    let groups: Vec<(&str, Vec<Entry>)> = emojis::Group::iter()
        .map(|group| {
            let emoji = group
                .emojis()
                .map(|emoji| {
                    let shortcodes: Vec<&str> = emoji.shortcodes().collect();
                    (emoji.as_str(), emoji.name(), shortcodes.join(" "))
                })
                .collect();
            (group_name(group), emoji)
        })
        .collect();
    let json = serde_json::to_string(&groups).map_err(|e| format!("emoji data: {e}"))?;
    let hash: String = Sha384::digest(json.as_bytes())
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let name = format!("emoji-{hash}.json");
    std::fs::write(dist.join(&name), json.as_bytes()).map_err(|e| format!("{name}: {e}"))?;
    println!(
        "xtask: {name}: {} emoji, {} bytes",
        groups.iter().map(|(_, emoji)| emoji.len()).sum::<usize>(),
        json.len()
    );
    Ok(name)
}

/// A group's name as CLDR writes it.
fn group_name(group: emojis::Group) -> &'static str {
    match group {
        emojis::Group::SmileysAndEmotion => "Smileys & Emotion",
        emojis::Group::PeopleAndBody => "People & Body",
        emojis::Group::AnimalsAndNature => "Animals & Nature",
        emojis::Group::FoodAndDrink => "Food & Drink",
        emojis::Group::TravelAndPlaces => "Travel & Places",
        emojis::Group::Activities => "Activities",
        emojis::Group::Objects => "Objects",
        emojis::Group::Symbols => "Symbols",
        emojis::Group::Flags => "Flags",
    }
}
