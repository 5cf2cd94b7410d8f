//! Printing the effective configuration in `doveconf`'s shape.

use std::fmt::Write;

use toml::Value;

use super::Config;

/// Renders `config`; with `only_changed` only top-level settings whose
/// value differs from the default (and, inside `service`, only changed
/// services), as `doveconf -n` prints them.
pub fn render(config: &Config, only_changed: bool) -> String {
    let value = to_value(config);
    let default = to_value(&Config::default());
    let mut out = String::new();
    let Value::Table(table) = value else {
        return out;
    };
    let empty = toml::Table::new();
    let default = match &default {
        Value::Table(t) => t,
        _ => &empty,
    };
    for (key, v) in &table {
        let d = default.get(key);
        if only_changed && d == Some(v) {
            continue;
        }
        match v {
            Value::Table(named) if key == "service" || key == "mailbox" => {
                let d_named = d.and_then(Value::as_table);
                for (name, block) in named {
                    if only_changed && d_named.and_then(|t| t.get(name)) == Some(block) {
                        continue;
                    }
                    block_out(&mut out, 0, &format!("{key} {name}"), block);
                }
            }
            Value::Array(items) if items.iter().all(Value::is_table) && !items.is_empty() => {
                for item in items {
                    block_out(&mut out, 0, key, item);
                }
            }
            _ => {
                let _ = writeln!(out, "{key} = {}", scalar(v));
            }
        }
    }
    out
}

fn to_value(config: &Config) -> Value {
    Value::try_from(config).unwrap_or(Value::Table(toml::Table::new()))
}

/// A `name { ... }` block; tables of tables inside become nested blocks
/// (`inet_listener imaps { ... }`).
fn block_out(out: &mut String, depth: usize, name: &str, value: &Value) {
    let pad = "  ".repeat(depth);
    let _ = writeln!(out, "{pad}{name} {{");
    if let Value::Table(t) = value {
        for (k, v) in t {
            match v {
                Value::Table(inner) if inner.values().all(Value::is_table) => {
                    for (n, b) in inner {
                        block_out(out, depth + 1, &format!("{k} {n}"), b);
                    }
                }
                Value::Table(_) => block_out(out, depth + 1, k, v),
                Value::String(s) if s.is_empty() => {}
                Value::Boolean(false) => {}
                Value::Array(a) if a.is_empty() => {}
                _ => {
                    let _ = writeln!(out, "{pad}  {k} = {}", scalar(v));
                }
            }
        }
    }
    let _ = writeln!(out, "{pad}}}");
}

/// A value as Dovecot writes it: booleans `yes`/`no`, lists space-separated.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Boolean(b) => if *b { "yes" } else { "no" }.into(),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Array(a) => a.iter().map(scalar).collect::<Vec<_>>().join(" "),
        Value::Datetime(d) => d.to_string(),
        Value::Table(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_print_nothing_when_only_changes_are_asked() {
        assert_eq!(render(&Config::default(), true), "");
    }

    #[test]
    fn changes_print_in_doveconf_shape() {
        let c = Config::from_toml(
            "ssl = \"no\"\nauth_mechanisms = [\"plain\", \"login\"]\n\
             [[passdb]]\ndriver = \"passwd-file\"\nargs = \"/etc/users\"\n\
             [service.imap-login.inet_listener.imap]\nport = 1143\n",
        )
        .unwrap();
        let text = render(&c, true);
        assert!(text.contains("ssl = no\n"), "{text}");
        assert!(text.contains("auth_mechanisms = plain login\n"), "{text}");
        assert!(
            text.contains("passdb {\n  args = /etc/users\n  driver = passwd-file\n"),
            "{text}"
        );
        assert!(
            text.contains("service imap-login {\n")
                && text.contains("  inet_listener imap {\n    port = 1143\n"),
            "{text}"
        );
        assert!(!text.contains("service pop3-login"), "{text}");
        let all = render(&c, false);
        assert!(all.contains("mail_location = maildir:~/Maildir\n"), "{all}");
    }
}
