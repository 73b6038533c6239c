//! Listing filters as SQL: a literal substring of any case, matched alike on
//! SQLite and PostgreSQL.

use std::{collections::HashMap, sync::OnceLock};

use sea_orm::{
    IntoSimpleExpr,
    sea_query::{Expr, ExprTrait, Func, LikeExpr, SimpleExpr, extension::sqlite::SqliteExpr},
};

/// Whether `column` contains `filter` (lowercased by the service) in any case.
///
/// PostgreSQL: `lower(column) LIKE '%…%'`, the expression its trigram
/// indexes are built on; its `lower()` folds every letter the locale knows.
/// SQLite's `lower()` and `LIKE` fold ASCII alone, so "ÉCRAN" would miss
/// "écran" there; it gets a `GLOB` whose every letter is the class of the
/// letters that lowercase to it.
pub(crate) fn contains(column: impl IntoSimpleExpr, filter: &str, postgres: bool) -> SimpleExpr {
    let column = column.into_simple_expr();
    if postgres {
        Expr::expr(Func::lower(column)).like(LikeExpr::new(like_contains(filter)).escape('\\'))
    } else {
        Expr::expr(column).glob(glob_contains(filter))
    }
}

/// `%needle%` with LIKE's wildcards taken literally: the filter is never a pattern.
fn like_contains(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// `*needle*` for GLOB, each character matching itself and every character
/// whose lowercase it is. GLOB's own `*`, `?` and `[` only ever appear inside
/// a class (`[*]`), where they are literal: the filter is never a pattern.
fn glob_contains(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() * 4 + 2);
    pattern.push('*');
    for c in needle.chars() {
        let upper = uppercases().get(&c).map(Vec::as_slice).unwrap_or_default();
        if upper.is_empty() && !matches!(c, '*' | '?' | '[') {
            pattern.push(c);
        } else {
            // Letters only besides `c`: no `]`, `^` or `-` to misread.
            pattern.push('[');
            pattern.push(c);
            pattern.extend(upper);
            pattern.push(']');
        }
    }
    pattern.push('*');
    pattern
}

/// For each lowercase character, the other characters that lowercase to it
/// alone: 'É' for 'é', both 'K' and the Kelvin sign for 'k'. Built once from
/// the Unicode tables Rust lowercases the filter with.
fn uppercases() -> &'static HashMap<char, Vec<char>> {
    static MAP: OnceLock<HashMap<char, Vec<char>>> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut map: HashMap<char, Vec<char>> = HashMap::new();
        for c in char::MIN..=char::MAX {
            let mut lower = c.to_lowercase();
            if let (Some(l), None) = (lower.next(), lower.next())
                && l != c
            {
                map.entry(l).or_default().push(c);
            }
        }
        map
    })
}

#[cfg(test)]
mod tests {
    use super::{glob_contains, like_contains};

    #[test]
    fn like_wildcards_are_literal() {
        assert_eq!(like_contains("a%b_c\\"), "%a\\%b\\_c\\\\%");
    }

    #[test]
    fn glob_wildcards_are_literal_and_letters_any_case() {
        assert_eq!(glob_contains("a*?[]"), "*[aA][*][?][[]]*");
        assert_eq!(glob_contains("é1-^"), "*[éÉ]1-^*");
        assert_eq!(glob_contains("k"), "*[kK\u{212A}]*");
    }
}
