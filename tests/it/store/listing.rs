//! `list_sessions` and `count_active_sessions`: which sessions a listing
//! covers, its exact total, sorting with the session id breaking ties, paging,
//! and filters that are literal, case-insensitive substrings on both backends.

use sessions_domain::{
    Device, ListQuery, ListScope, ListedSession, Page, Session, SessionRepository, SortDirection,
    SortKey, UserSummary,
};
use sessions_store::{Store, StoreOptions};
use sessions_testkit::Backend;

use super::{at, fresh, seed, session, user};

on_both_databases!(
    a_listing_covers_active_sessions_of_its_scope,
    sorting_and_paging,
    filters_are_literal_case_insensitive_substrings,
    non_ascii_filters_fold_case_alike,
    a_pool_of_one_lists_the_same_through_the_pool,
);

fn query(scope: ListScope, filter: Option<&str>) -> ListQuery {
    ListQuery {
        scope,
        filter: filter.map(str::to_owned),
        sort: vec![(SortKey::LoginAt, SortDirection::Descending)],
        offset: 0,
        count: 50,
        now: at(100),
    }
}

fn mine(user_id: &str) -> ListScope {
    ListScope::User(user_id.to_owned())
}

fn ids(page: &Page) -> Vec<&str> {
    page.sessions
        .iter()
        .map(|listed| listed.session_id.as_str())
        .collect()
}

fn on_device(mut session: Session, name: &str, os_name: &str) -> Session {
    session.device = Device {
        name: name.to_owned(),
        os_name: os_name.to_owned(),
        ..session.device
    };
    session.search_term =
        Session::search_term_for(&session.device, &session.session_id, &session.user_id);
    session
}

async fn a_listing_covers_active_sessions_of_its_scope(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    let mut sessions = vec![
        session("LISTAAAAAAAAAAAA1", "u-quentin", 10),
        session("LISTAAAAAAAAAAAA2", "u-quentin", 20),
        session("LISTAAAAAAAAAAAA3", "u-quentin", 30),
        session("LISTAAAAAAAAAAAA4", "u-quentin", 40),
        session("LISTAAAAAAAAAAAA5", "u-rosa", 50),
    ];
    sessions[1].logout_at = Some(at(25));
    // Expiring exactly at the listing's instant is expired.
    sessions[2].expires_at = at(100);
    sessions[3].last_activity_at = Some(at(45));
    let users = [
        user("u-quentin", "quentin", "Quentin"),
        user("u-rosa", "rosa", "Rosa"),
    ];
    seed(&store, &users, &sessions).await;

    let page = store
        .list_sessions(&query(mine("u-quentin"), None))
        .await
        .unwrap();
    assert_eq!(ids(&page), ["LISTAAAAAAAAAAAA4", "LISTAAAAAAAAAAAA1"]);
    assert_eq!(page.total, 2);
    let newest = &sessions[3];
    assert_eq!(
        page.sessions[0],
        ListedSession {
            session_id: newest.session_id.clone(),
            user_id: newest.user_id.clone(),
            device: newest.device.clone(),
            host: newest.host.clone(),
            ip: newest.ip.clone(),
            login_at: newest.login_at,
            last_activity_at: newest.last_activity_at,
            user: UserSummary {
                name: "Quentin".to_owned(),
                username: "quentin".to_owned(),
            },
        }
    );

    let all = store
        .list_sessions(&query(ListScope::All, None))
        .await
        .unwrap();
    assert_eq!(
        ids(&all),
        [
            "LISTAAAAAAAAAAAA5",
            "LISTAAAAAAAAAAAA4",
            "LISTAAAAAAAAAAAA1"
        ]
    );
    assert_eq!(all.total, 3);
    let nobody = store
        .list_sessions(&query(mine("u-nobody"), None))
        .await
        .unwrap();
    assert_eq!((nobody.sessions.len(), nobody.total), (0, 0));

    assert_eq!(store.count_active_sessions(at(100)).await.unwrap(), 3);
    // Earlier, the expired one was still active; later, every one expired.
    assert_eq!(store.count_active_sessions(at(99)).await.unwrap(), 4);
    assert_eq!(store.count_active_sessions(at(86_500)).await.unwrap(), 0);
}

async fn sorting_and_paging(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    let sessions = vec![
        on_device(
            session("SORTAAAAAAAAAAAA3", "u-sven", 10),
            "Chrome",
            "Windows",
        ),
        on_device(
            session("SORTAAAAAAAAAAAA1", "u-sven", 20),
            "Firefox",
            "Linux",
        ),
        on_device(
            session("SORTAAAAAAAAAAAA2", "u-tomoko", 30),
            "Chrome",
            "Mac OS",
        ),
        on_device(
            session("SORTAAAAAAAAAAAA4", "u-tomoko", 40),
            "Safari",
            "Android",
        ),
    ];
    let users = [
        user("u-sven", "sven", "Sven Weber"),
        user("u-tomoko", "tomoko", "Abe Tomoko"),
    ];
    seed(&store, &users, &sessions).await;
    let sorted = |sort: Vec<(SortKey, SortDirection)>| {
        let store = store.clone();
        async move {
            let q = ListQuery {
                sort,
                ..query(ListScope::All, None)
            };
            let page = store.list_sessions(&q).await.unwrap();
            ids(&page)
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        }
    };
    use SortDirection::{Ascending, Descending};
    assert_eq!(
        sorted(vec![(SortKey::LoginAt, Ascending)]).await,
        [
            "SORTAAAAAAAAAAAA3",
            "SORTAAAAAAAAAAAA1",
            "SORTAAAAAAAAAAAA2",
            "SORTAAAAAAAAAAAA4"
        ]
    );
    // Equal device names fall back to the session id, ascending.
    assert_eq!(
        sorted(vec![(SortKey::DeviceName, Descending)]).await,
        [
            "SORTAAAAAAAAAAAA4",
            "SORTAAAAAAAAAAAA1",
            "SORTAAAAAAAAAAAA2",
            "SORTAAAAAAAAAAAA3"
        ]
    );
    assert_eq!(
        sorted(vec![(SortKey::DeviceOsName, Ascending)]).await,
        [
            "SORTAAAAAAAAAAAA4",
            "SORTAAAAAAAAAAAA1",
            "SORTAAAAAAAAAAAA2",
            "SORTAAAAAAAAAAAA3"
        ]
    );
    assert_eq!(
        sorted(vec![
            (SortKey::UserName, Ascending),
            (SortKey::LoginAt, Descending)
        ])
        .await,
        [
            "SORTAAAAAAAAAAAA4",
            "SORTAAAAAAAAAAAA2",
            "SORTAAAAAAAAAAAA1",
            "SORTAAAAAAAAAAAA3"
        ]
    );
    assert_eq!(
        sorted(vec![
            (SortKey::UserUsername, Ascending),
            (SortKey::DeviceName, Ascending)
        ])
        .await,
        [
            "SORTAAAAAAAAAAAA3",
            "SORTAAAAAAAAAAAA1",
            "SORTAAAAAAAAAAAA2",
            "SORTAAAAAAAAAAAA4"
        ]
    );
    // Every OS version is the same: the session id alone orders them.
    assert_eq!(
        sorted(vec![(SortKey::DeviceOsVersion, Descending)]).await,
        [
            "SORTAAAAAAAAAAAA1",
            "SORTAAAAAAAAAAAA2",
            "SORTAAAAAAAAAAAA3",
            "SORTAAAAAAAAAAAA4"
        ]
    );

    // Pages of two; the total is every match, whatever the page: for all
    // users (page, then a count) and for one (the count beside the page).
    let paged = |scope: ListScope, offset, count| {
        let store = store.clone();
        async move {
            let q = ListQuery {
                offset,
                count,
                sort: vec![(SortKey::LoginAt, Descending)],
                ..query(scope, None)
            };
            let page = store.list_sessions(&q).await.unwrap();
            (
                ids(&page)
                    .into_iter()
                    .map(str::to_owned)
                    .collect::<Vec<_>>(),
                page.total,
            )
        }
    };
    let page = |offset, count| paged(ListScope::All, offset, count);
    assert_eq!(
        page(0, 2).await,
        (
            vec![
                "SORTAAAAAAAAAAAA4".to_owned(),
                "SORTAAAAAAAAAAAA2".to_owned()
            ],
            4
        )
    );
    assert_eq!(page(3, 2).await, (vec!["SORTAAAAAAAAAAAA3".to_owned()], 4));
    assert_eq!(page(4, 2).await, (vec![], 4));
    let sven = |offset, count| paged(ListScope::User("u-sven".to_owned()), offset, count);
    assert_eq!(sven(0, 1).await, (vec!["SORTAAAAAAAAAAAA1".to_owned()], 2));
    assert_eq!(sven(1, 5).await, (vec!["SORTAAAAAAAAAAAA3".to_owned()], 2));
    assert_eq!(sven(2, 1).await, (vec![], 2));
    assert_eq!(
        paged(ListScope::User("u-nobody".to_owned()), 0, 2).await,
        (vec![], 0)
    );
}

async fn filters_are_literal_case_insensitive_substrings(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    let sessions = vec![
        on_device(
            session("FILTAAAAAAAAAAAA1", "u-ugo", 10),
            "Chrome",
            "Windows",
        ),
        on_device(
            session("FILTAAAAAAAAAAAA2", "u-ugo", 20),
            "100%_Tool",
            "Linux",
        ),
        on_device(
            session("FILTAAAAAAAAAAAA3", "u-vera", 30),
            "a*b?c[d]",
            "Linux",
        ),
        on_device(session("FILTAAAAAAAAAAAA4", "u-vera", 40), "Firefox", "Mac"),
    ];
    let users = [
        user("u-ugo", "ugo", "Ugo Rossi"),
        user("u-vera", "vera.admin", "Vera"),
    ];
    seed(&store, &users, &sessions).await;
    let matches = |scope: ListScope, filter: &'static str| {
        let store = store.clone();
        async move {
            let page = store
                .list_sessions(&query(scope, Some(filter)))
                .await
                .unwrap();
            assert_eq!(page.total as usize, page.sessions.len(), "{filter}");
            ids(&page)
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        }
    };
    // Case-insensitive against the search term (device, OS, ids).
    assert_eq!(
        matches(mine("u-ugo"), "chrome").await,
        ["FILTAAAAAAAAAAAA1"]
    );
    assert_eq!(
        matches(mine("u-ugo"), "filtaaaaaaaaaaaa2").await,
        ["FILTAAAAAAAAAAAA2"]
    );
    assert_eq!(
        matches(ListScope::All, "linux").await,
        ["FILTAAAAAAAAAAAA3", "FILTAAAAAAAAAAAA2"]
    );
    // LIKE's and GLOB's wildcards are plain characters.
    assert_eq!(matches(ListScope::All, "0%_t").await, ["FILTAAAAAAAAAAAA2"]);
    assert_eq!(matches(ListScope::All, "%").await, ["FILTAAAAAAAAAAAA2"]);
    assert_eq!(matches(ListScope::All, "_").await, ["FILTAAAAAAAAAAAA2"]);
    assert_eq!(
        matches(ListScope::All, "a*b?c[d]").await,
        ["FILTAAAAAAAAAAAA3"]
    );
    assert!(matches(ListScope::All, "a*c").await.is_empty());
    assert!(matches(ListScope::All, "[d]]").await.is_empty());
    assert!(matches(ListScope::All, "chr.me").await.is_empty());
    // The owner's username and name count in the all-users listing only.
    assert_eq!(
        matches(ListScope::All, "rossi").await,
        ["FILTAAAAAAAAAAAA2", "FILTAAAAAAAAAAAA1"]
    );
    assert_eq!(
        matches(ListScope::All, ".admin").await,
        ["FILTAAAAAAAAAAAA4", "FILTAAAAAAAAAAAA3"]
    );
    assert!(matches(mine("u-ugo"), "rossi").await.is_empty());
    assert!(matches(ListScope::All, "nothing like it").await.is_empty());
}

/// The service lowercases a filter with Unicode's rules; the store must match
/// it against any case of the stored text, not ASCII's alone (SQLite's
/// `lower()` folds only ASCII; PostgreSQL's folds per the locale).
async fn non_ascii_filters_fold_case_alike(backend: Backend) {
    let (store, _database) = fresh(backend).await;
    let sessions = vec![
        on_device(session("FOLDAAAAAAAAAAAA1", "u-wen", 10), "ÉCRAN", "Linux"),
        on_device(session("FOLDAAAAAAAAAAAA2", "u-wen", 20), "écran", "Linux"),
        on_device(
            session("FOLDAAAAAAAAAAAA3", "u-xavier", 30),
            "Chrome",
            "ΣΥΣΤΗΜΑ",
        ),
        on_device(
            session("FOLDAAAAAAAAAAAA4", "u-yusuf", 40),
            "Chrome",
            "Linux",
        ),
    ];
    let users = [
        user("u-wen", "wen", "Wen"),
        user("u-xavier", "xavier", "Xavier"),
        user("u-yusuf", "yusuf", "Yusuf MÜLLER"),
    ];
    seed(&store, &users, &sessions).await;
    let matches = |scope: ListScope, filter: &'static str| {
        let store = store.clone();
        async move {
            let page = store
                .list_sessions(&query(scope, Some(filter)))
                .await
                .unwrap();
            assert_eq!(page.total as usize, page.sessions.len(), "{filter}");
            ids(&page)
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        }
    };
    let both = ["FOLDAAAAAAAAAAAA2", "FOLDAAAAAAAAAAAA1"];
    assert_eq!(matches(mine("u-wen"), "écran").await, both);
    assert_eq!(matches(ListScope::All, "écran").await, both);
    // Shorter than a trigram: SQLite cannot ask its index.
    assert_eq!(matches(ListScope::All, "éc").await, both);
    assert_eq!(
        matches(ListScope::All, "συστημα").await,
        ["FOLDAAAAAAAAAAAA3"]
    );
    assert_eq!(
        matches(ListScope::All, "müller").await,
        ["FOLDAAAAAAAAAAAA4"]
    );
    // Folding is case, not accents.
    assert!(matches(ListScope::All, "ecran").await.is_empty());
}

/// A pool of one holds no connection out of it for reads: listings run
/// through the pool itself and answer what the held connections answer.
async fn a_pool_of_one_lists_the_same_through_the_pool(backend: Backend) {
    let (store, database) = fresh(backend).await;
    let mut sessions = vec![
        session("POOLAAAAAAAAAAAA1", "u-quentin", 10),
        session("POOLAAAAAAAAAAAA2", "u-quentin", 20),
        session("POOLAAAAAAAAAAAA3", "u-rosa", 30),
    ];
    sessions[1].last_activity_at = Some(at(25));
    let users = [
        user("u-quentin", "quentin", "Quentin"),
        user("u-rosa", "rosa", "Rosa"),
    ];
    seed(&store, &users, &sessions).await;
    let single = Store::connect(&StoreOptions {
        max_connections: 1,
        ..StoreOptions::new(database.url())
    })
    .await
    .unwrap();

    // Own and every user's, a filter (SQLite's FTS phrase is a bound value
    // too), and an offset past the matches (the total then needs a count).
    let past_the_end = ListQuery {
        offset: 10,
        ..query(mine("u-quentin"), None)
    };
    for listing in [
        query(mine("u-quentin"), None),
        query(ListScope::All, None),
        query(ListScope::All, Some("quent")),
        past_the_end,
    ] {
        let held = store.list_sessions(&listing).await.unwrap();
        let pooled = single.list_sessions(&listing).await.unwrap();
        assert_eq!(pooled, held, "{listing:?}");
    }
    let filtered = single
        .list_sessions(&query(ListScope::All, Some("quent")))
        .await
        .unwrap();
    assert_eq!(filtered.total, 2);
    let own = single
        .list_sessions(&query(mine("u-quentin"), None))
        .await
        .unwrap();
    assert_eq!(ids(&own), ["POOLAAAAAAAAAAAA2", "POOLAAAAAAAAAAAA1"]);
    assert_eq!(own.total, 2);
    assert_eq!(own.sessions[0].last_activity_at, Some(at(25)));
    single.close().await.unwrap();
}
