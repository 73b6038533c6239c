//! Permissions, the session event log (cursor order, paging, pruning) and the
//! audit log (id order, paging, one actor).

use sessions_domain::{
    AuditEntry, AuditRepository, EventKind, EventRepository, Permission, PermissionRepository,
};
use sessions_testkit::Backend;

use super::{at, event, fresh, seed, session, user};

on_both_databases!(
    permissions_are_saved_and_replaced,
    events_page_by_cursor_and_prune_by_age,
    audit_entries_page_by_id_and_actor,
);

fn permission(id: &str, roles: &[&str]) -> Permission {
    Permission {
        id: id.to_owned(),
        roles: roles.iter().map(|role| (*role).to_owned()).collect(),
    }
}

async fn permissions_are_saved_and_replaced(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    // The migrations give the device-management permissions, and logging
    // another user out, to admins.
    let view = permission("view-device-management", &["admin"]);
    let logout = permission("logout-device-management", &["admin"]);
    let other_user = permission("logout-other-user", &["admin"]);
    assert_eq!(
        store.list_permissions().await.unwrap(),
        vec![logout.clone(), other_user.clone(), view.clone()]
    );
    assert_eq!(
        store.find_permission("no-such-permission").await.unwrap(),
        None
    );

    // Saving replaces the roles; an empty list is kept as empty; a new id is added.
    let support = permission("logout-device-management", &["admin", "support"]);
    let nobody = permission("view-device-management", &[]);
    let other = permission("a-permission", &["user"]);
    for saved in [&support, &nobody, &other] {
        store.save_permission(saved).await.unwrap();
    }
    assert_eq!(
        store
            .find_permission("view-device-management")
            .await
            .unwrap(),
        Some(nobody.clone())
    );
    assert_eq!(
        store.list_permissions().await.unwrap(),
        vec![other, support, other_user, nobody]
    );
}

async fn events_page_by_cursor_and_prune_by_age(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    let zoe = session("EVENTAAAAAAAAAAA1", "u-zoe", 10);
    seed(
        &store,
        &[user("u-zoe", "zoe", "Zoe")],
        std::slice::from_ref(&zoe),
    )
    .await;
    let expected = vec![
        event(EventKind::Created, &zoe, 0, None),
        event(EventKind::ActivityClosed, &zoe, 20, None),
        event(EventKind::LoggedOut, &zoe, 30, Some("u-zoe")),
    ];
    store
        .close_session("EVENTAAAAAAAAAAA1", at(20), &expected[1])
        .await
        .unwrap();
    use sessions_domain::SessionRepository;
    store
        .logout_session("EVENTAAAAAAAAAAA1", at(30), "u-zoe", &expected[2])
        .await
        .unwrap();

    let all = store.events_after(0, 100).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|stored| stored.event.clone())
            .collect::<Vec<_>>(),
        expected
    );
    assert!(all.windows(2).all(|pair| pair[0].cursor < pair[1].cursor));
    // A cursor resumes right after the last event seen; a limit caps a page.
    let rest = store.events_after(all[0].cursor, 1).await.unwrap();
    assert_eq!(rest, vec![all[1].clone()]);
    assert!(
        store
            .events_after(all[2].cursor, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // Pruning deletes events strictly older than the instant given.
    assert_eq!(store.prune_events(at(20)).await.unwrap(), 1);
    assert_eq!(store.prune_events(at(20)).await.unwrap(), 0);
    assert_eq!(store.events_after(0, 100).await.unwrap(), all[1..].to_vec());
    // Cursors are not reused once their events are gone.
    store
        .close_session("EVENTAAAAAAAAAAA1", at(40), &expected[1])
        .await
        .unwrap();
    let newest = store.events_after(all[2].cursor, 100).await.unwrap();
    assert_eq!(newest.len(), 1);
    assert!(newest[0].cursor > all[2].cursor);
}

fn entry(seconds: i64, actor: &str, action: &str, outcome: &str) -> AuditEntry {
    AuditEntry {
        at: at(seconds),
        actor_id: actor.to_owned(),
        action: action.to_owned(),
        target: format!("target-{seconds}"),
        ip: "203.0.113.9".to_owned(),
        user_agent: "Mozilla/5.0".to_owned(),
        outcome: outcome.to_owned(),
    }
}

async fn audit_entries_page_by_id_and_actor(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    let entries = [
        entry(1, "u-admin", "sessions.list.all", "ok"),
        entry(2, "u-other", "sessions.info.admin", "error-not-allowed"),
        entry(3, "u-admin", "sessions.logout", "ok"),
    ];
    for entry in &entries {
        store.append_audit(entry).await.unwrap();
    }
    let all = store.audit_after(0, None, 100).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|record| record.entry.clone())
            .collect::<Vec<_>>(),
        entries.to_vec()
    );
    assert!(all.windows(2).all(|pair| pair[0].id < pair[1].id));
    let admin = store.audit_after(0, Some("u-admin"), 100).await.unwrap();
    assert_eq!(admin, vec![all[0].clone(), all[2].clone()]);
    assert_eq!(
        store
            .audit_after(all[0].id, Some("u-admin"), 100)
            .await
            .unwrap(),
        vec![all[2].clone()]
    );
    assert_eq!(
        store.audit_after(0, None, 2).await.unwrap(),
        all[..2].to_vec()
    );
    assert!(
        store
            .audit_after(0, Some("u-nobody"), 100)
            .await
            .unwrap()
            .is_empty()
    );
}
