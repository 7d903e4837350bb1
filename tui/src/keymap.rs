//! Which key triggers which [`Action`]: defaults from `assets/keymap.toml`,
//! optionally overridden by a user file of the same format.

use crate::action::Action;
use anyhow::{anyhow, bail, Context};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::HashMap;
use std::path::Path;

/// The default bindings, compiled in.
const DEFAULT_KEYMAP: &str = include_str!("../../assets/keymap.toml");

/// A key press with the modifiers that matter for matching.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    code: KeyCode,
    mods: KeyModifiers,
}

impl Key {
    /// Normalises a terminal key event: Shift is part of the character itself
    /// (`Q`, `?`, `+`), so it is dropped for characters and Back-Tab.
    pub fn from_event(ev: &KeyEvent) -> Key {
        let mut mods =
            ev.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match ev.code {
            KeyCode::Char(c) if mods.contains(KeyModifiers::CONTROL) => {
                KeyCode::Char(c.to_ascii_lowercase())
            }
            c => c,
        };
        if matches!(code, KeyCode::Char(_) | KeyCode::BackTab) {
            mods.remove(KeyModifiers::SHIFT);
        }
        Key { code, mods }
    }

    /// Parses a key name such as `q`, `G`, `ctrl-c`, `pagedown` or `shift-tab`.
    pub fn parse(name: &str) -> Result<Key, String> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = name;
        loop {
            let lower = rest.to_ascii_lowercase();
            if rest.len() > 1 && lower.starts_with("ctrl-") {
                mods |= KeyModifiers::CONTROL;
                rest = &rest[5..];
            } else if rest.len() > 1 && lower.starts_with("alt-") {
                mods |= KeyModifiers::ALT;
                rest = &rest[4..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) if mods.contains(KeyModifiers::CONTROL) => {
                KeyCode::Char(c.to_ascii_lowercase())
            }
            (Some(c), None) => KeyCode::Char(c),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" => KeyCode::Tab,
                "backtab" | "shift-tab" => KeyCode::BackTab,
                "backspace" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                "insert" | "ins" => KeyCode::Insert,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pageup" | "pgup" => KeyCode::PageUp,
                "pagedown" | "pgdn" => KeyCode::PageDown,
                "space" => KeyCode::Char(' '),
                f if f.starts_with('f') => match f[1..].parse::<u8>() {
                    Ok(n @ 1..=12) => KeyCode::F(n),
                    _ => return Err(format!("unknown key '{name}'")),
                },
                _ => return Err(format!("unknown key '{name}'")),
            },
        };
        let key = Key { code, mods };
        if mods == KeyModifiers::CONTROL {
            match code {
                KeyCode::Char('s') | KeyCode::Char('q') => {
                    return Err(format!(
                        "'{name}' is terminal flow control over SSH (XOFF/XON); pick another key"
                    ))
                }
                KeyCode::Char('c') => return Err("ctrl-c always detaches; pick another key".into()),
                _ => {}
            }
        }
        Ok(key)
    }

    /// The key as the help overlay shows it.
    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "Shift-Tab".into(),
            KeyCode::Backspace => "Backspace".into(),
            KeyCode::Delete => "Del".into(),
            KeyCode::Insert => "Ins".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}"),
        };
        let mut label = String::new();
        if self.mods.contains(KeyModifiers::CONTROL) {
            label.push_str("Ctrl-");
        }
        if self.mods.contains(KeyModifiers::ALT) {
            label.push_str("Alt-");
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            label.push_str("Shift-");
        }
        label + &base
    }
}

/// The bindings of normal mode.
#[derive(Clone, Debug)]
pub struct KeyMap {
    actions: HashMap<Key, Action>,
    keys: HashMap<Action, Vec<Key>>,
}

impl KeyMap {
    /// The defaults, with the bindings of the file at `overrides` (if any) replacing them.
    pub fn load(overrides: Option<&Path>) -> anyhow::Result<KeyMap> {
        let mut keys = parse_bindings(DEFAULT_KEYMAP).context("the built-in key map")?;
        if let Some(path) = overrides {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the key map {}", path.display()))?;
            let user = parse_bindings(&text)
                .with_context(|| format!("in the key map {}", path.display()))?;
            keys.extend(user);
        }
        let mut actions = HashMap::new();
        for action in Action::ALL {
            for key in keys.get(&action).into_iter().flatten() {
                if let Some(other) = actions.insert(*key, action) {
                    bail!(
                        "key '{}' is bound to both {} and {}",
                        key.label(),
                        other.name(),
                        action.name()
                    );
                }
            }
        }
        Ok(KeyMap { actions, keys })
    }

    /// The action bound to `key` in normal mode.
    pub fn action(&self, key: &KeyEvent) -> Option<Action> {
        self.actions.get(&Key::from_event(key)).copied()
    }

    /// The keys of `action`, for the help overlay (`↓ j`).
    pub fn keys_label(&self, action: Action) -> String {
        let labels: Vec<String> = self
            .keys
            .get(&action)
            .into_iter()
            .flatten()
            .map(Key::label)
            .collect();
        labels.join(" ")
    }
}

/// Parses `action = ["key", ...]` (or `action = "key"`) lines.
fn parse_bindings(text: &str) -> anyhow::Result<HashMap<Action, Vec<Key>>> {
    let table: toml::Table = toml::from_str(text)?;
    let mut out = HashMap::new();
    for (name, value) in table {
        let action = Action::parse(&name).ok_or_else(|| anyhow!("unknown action '{name}'"))?;
        let names: Vec<&str> = match &value {
            toml::Value::String(s) => vec![s.as_str()],
            toml::Value::Array(items) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| anyhow!("{name}: keys must be strings"))
                })
                .collect::<anyhow::Result<_>>()?,
            _ => bail!("{name}: expected a key or a list of keys"),
        };
        let keys = names
            .into_iter()
            .map(|k| Key::parse(k).map_err(|e| anyhow!("{name}: {e}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        out.insert(action, keys);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn defaults_load_and_cover_every_action() {
        let map = KeyMap::load(None).expect("default key map");
        for action in Action::ALL {
            assert!(
                !map.keys_label(action).is_empty(),
                "{} unbound",
                action.name()
            );
        }
    }

    #[test]
    fn shifted_characters_match_their_plain_names() {
        let map = KeyMap::load(None).expect("default key map");
        assert_eq!(
            map.action(&press(KeyCode::Char('Q'), KeyModifiers::SHIFT)),
            Some(Action::StopEngine)
        );
        assert_eq!(
            map.action(&press(KeyCode::Char('?'), KeyModifiers::SHIFT)),
            Some(Action::Help)
        );
        assert_eq!(
            map.action(&press(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Action::PrevPane)
        );
        assert_eq!(
            map.action(&press(KeyCode::Char('s'), KeyModifiers::CONTROL)),
            None
        );
    }

    #[test]
    fn flow_control_keys_are_refused() {
        assert!(Key::parse("ctrl-s").is_err());
        assert!(Key::parse("Ctrl-Q").is_err());
        assert!(Key::parse("ctrl-c").is_err());
        assert!(Key::parse("ctrl-x").is_ok());
        assert!(Key::parse("f13").is_err());
    }

    #[test]
    fn overrides_replace_defaults_and_conflicts_are_reported() {
        let dir = std::env::temp_dir().join(format!("swarmux-tui-keymap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("keys.toml");
        std::fs::write(&path, "detach = \"x\"\n").expect("write");
        let map = KeyMap::load(Some(&path)).expect("override loads");
        assert_eq!(
            map.action(&press(KeyCode::Char('x'), KeyModifiers::NONE)),
            Some(Action::Detach)
        );
        assert_eq!(
            map.action(&press(KeyCode::Char('q'), KeyModifiers::NONE)),
            None
        );

        std::fs::write(&path, "detach = [\"p\"]\n").expect("write");
        let err = KeyMap::load(Some(&path)).expect_err("p is taken by pause_resume");
        assert!(format!("{err:#}").contains("bound to both"), "{err:#}");

        std::fs::write(&path, "search = \"ctrl-s\"\n").expect("write");
        let err = KeyMap::load(Some(&path)).expect_err("ctrl-s refused");
        assert!(format!("{err:#}").contains("flow control"), "{err:#}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
