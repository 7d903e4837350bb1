//! Turns what the user typed after `/` into [`SearchParams`]: inline filters
//! (`size>100M size<2G type:video ext:mkv net:ed2k`) are taken out of the text.

use swarmux_api::SearchParams;
use swarmux_net::FileKind;

/// Parses a search line; the error says what to fix.
pub fn parse_search(input: &str) -> Result<SearchParams, String> {
    let mut params = SearchParams::default();
    let mut words = Vec::new();
    for token in input.split_whitespace() {
        let lower = token.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("size") {
            let (bound, value) = if let Some(v) = rest.strip_prefix(">=").or(rest.strip_prefix('>'))
            {
                (&mut params.min_size, v)
            } else if let Some(v) = rest.strip_prefix("<=").or(rest.strip_prefix('<')) {
                (&mut params.max_size, v)
            } else {
                words.push(token);
                continue;
            };
            *bound = Some(parse_size(value).map_err(|e| format!("'{token}': {e}"))?);
        } else if let Some(kind) = lower.strip_prefix("type:").or(lower.strip_prefix("kind:")) {
            let names: Vec<&str> = FileKind::ALL.iter().map(|k| k.name()).collect();
            params.kind = Some(FileKind::parse(kind).ok_or_else(|| {
                format!("'{token}': unknown type; use one of {}", names.join(", "))
            })?);
        } else if let Some(ext) = lower.strip_prefix("ext:") {
            let ext = ext.trim_start_matches('.');
            if ext.is_empty() {
                return Err(format!("'{token}': give an extension, like ext:mkv"));
            }
            params.extension = Some(ext.to_string());
        } else if let Some(nets) = lower.strip_prefix("net:") {
            params.networks.extend(
                nets.split(',')
                    .filter(|n| !n.is_empty())
                    .map(str::to_string),
            );
        } else {
            words.push(token);
        }
    }
    if let (Some(min), Some(max)) = (params.min_size, params.max_size) {
        if min > max {
            return Err("the minimum size is larger than the maximum".to_string());
        }
    }
    params.text = words.join(" ");
    if params.text.is_empty() {
        return Err("type some words to search for (filters alone are not a search)".to_string());
    }
    Ok(params)
}

/// Parses `700M`, `1.5G`, `100k`, `2GiB`, `123` (bytes); units are powers of 1024.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| "expected a size like 700M or 1.5G".to_string())?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("unknown unit '{unit}'; use K, M, G or T")),
    };
    Ok((number * (1u64 << shift) as f64).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_taken_out_of_the_text() {
        let p = parse_search("ubuntu size>100M iso size<2G type:iso ext:.ISO net:ed2k,kad")
            .expect("valid");
        assert_eq!(p.text, "ubuntu iso");
        assert_eq!(p.min_size, Some(100 << 20));
        assert_eq!(p.max_size, Some(2 << 30));
        assert_eq!(p.kind, Some(FileKind::Iso));
        assert_eq!(p.extension.as_deref(), Some("iso"));
        assert_eq!(p.networks, vec!["ed2k".to_string(), "kad".to_string()]);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("2KiB"), Ok(2048));
        assert!(parse_size("abc").is_err());
        assert!(parse_size("5X").is_err());
    }

    #[test]
    fn mistakes_are_explained() {
        assert!(parse_search("size>100M").unwrap_err().contains("words"));
        assert!(parse_search("a type:movie").unwrap_err().contains("video"));
        assert!(parse_search("a size>2G size<1G")
            .unwrap_err()
            .contains("larger"));
        assert!(parse_search("a size>lots")
            .unwrap_err()
            .contains("size>lots"));
        // A word that merely starts with "size" stays a word.
        assert_eq!(
            parse_search("sizes matter").map(|p| p.text),
            Ok("sizes matter".into())
        );
    }
}
