//! `mostImportantRole` (spec section 6).

/// Highest first; roles outside the list rank as `custom-role`.
const RANKING: &[&str] = &[
    "admin",
    "livechat-manager",
    "livechat-monitor",
    "livechat-agent",
    "custom-role",
    "user",
    "app",
    "bot",
    "guest",
];

pub fn most_important_role(roles: &[String]) -> String {
    if roles.is_empty() {
        return "no-role".to_owned();
    }
    let ranked = roles.iter().map(|role| match role.as_str() {
        "auditor" | "auditor-log" => "user",
        known if RANKING.contains(&known) => known,
        _ => "custom-role",
    });
    ranked
        .filter_map(|role| RANKING.iter().position(|r| *r == role))
        .min()
        .map(|index| RANKING[index].to_owned())
        .unwrap_or_else(|| "no-role".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(list: &[&str]) -> Vec<String> {
        list.iter().map(|r| (*r).to_owned()).collect()
    }

    #[test]
    fn ranks_as_the_spec_says() {
        assert_eq!(most_important_role(&[]), "no-role");
        assert_eq!(
            most_important_role(&roles(&[
                "user",
                "admin",
                "livechat-agent",
                "livechat-manager"
            ])),
            "admin"
        );
        assert_eq!(most_important_role(&roles(&["auditor"])), "user");
        assert_eq!(
            most_important_role(&roles(&["auditor-log", "guest"])),
            "user"
        );
        assert_eq!(
            most_important_role(&roles(&["moderator", "user"])),
            "custom-role"
        );
        assert_eq!(most_important_role(&roles(&["bot", "app"])), "app");
        assert_eq!(most_important_role(&roles(&["guest"])), "guest");
    }
}
