//! A command consumer never finds the credential in its environment, even when the process
//! running the rotation holds it in one (as the examples read `ROTATE_NEW_TOKEN`). One test in
//! a binary of its own: it sets environment variables, which no other thread may read meanwhile.

use atlassian_rotation::consumer::{CommandConsumer, Consumer, CredentialView};

const SECRET: &str = "ATATT3xFfGF0-environment-secret";

#[tokio::test]
async fn a_command_never_inherits_a_variable_holding_the_credential() {
    // SAFETY: the only test of this binary, before any thread of its own reads the environment.
    unsafe {
        std::env::set_var("ROTATE_NEW_TOKEN", SECRET);
        std::env::set_var("APP_AUTH_LINE", format!("Bearer {SECRET}"));
        std::env::set_var("APP_UNRELATED", "kept");
        std::env::set_var("APP_ADMIN_KEY", "another-secret-of-the-caller");
    }
    let dir = tempfile::tempdir().unwrap();
    let (stdin, environ) = (dir.path().join("stdin"), dir.path().join("environ"));
    let consumer = CommandConsumer::new("sh").args([
        "-c".to_owned(),
        r#"cat > "$1"; cat /proc/$$/environ > "$2""#.to_owned(),
        "sh".to_owned(),
        stdin.display().to_string(),
        environ.display().to_string(),
    ]);
    consumer.install(CredentialView::new(SECRET)).await.unwrap();

    assert_eq!(std::fs::read_to_string(&stdin).unwrap(), SECRET);
    let env = std::fs::read(&environ).unwrap();
    let vars: Vec<String> = env
        .split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    assert!(
        !vars.iter().any(|v| v.contains(SECRET)),
        "the credential reached the child's environment in {:?}",
        vars.iter()
            .filter(|v| v.contains(SECRET))
            .map(|v| v.split('=').next().unwrap_or_default())
            .collect::<Vec<_>>()
    );
    assert!(
        vars.iter().any(|v| v == "APP_UNRELATED=kept"),
        "the rest of the environment is passed on"
    );

    // With keep_env_only, the caller's other secrets stay home too: only the named variables
    // (that do not hold the credential) reach the command.
    let only = CommandConsumer::new("sh")
        .args([
            "-c".to_owned(),
            r#"cat > "$1"; cat /proc/$$/environ > "$2""#.to_owned(),
            "sh".to_owned(),
            stdin.display().to_string(),
            environ.display().to_string(),
        ])
        .keep_env_only(["PATH", "APP_UNRELATED", "ROTATE_NEW_TOKEN"]);
    only.install(CredentialView::new(SECRET)).await.unwrap();
    assert_eq!(std::fs::read_to_string(&stdin).unwrap(), SECRET);
    let env = std::fs::read(&environ).unwrap();
    let names: Vec<String> = env
        .split(|b| *b == 0)
        .filter(|v| !v.is_empty())
        .map(|v| {
            String::from_utf8_lossy(v)
                .split('=')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert!(names.iter().any(|n| n == "APP_UNRELATED"), "{names:?}");
    assert!(names.iter().any(|n| n == "PATH"), "{names:?}");
    for withheld in ["APP_ADMIN_KEY", "ROTATE_NEW_TOKEN", "APP_AUTH_LINE"] {
        assert!(
            !names.iter().any(|n| n == withheld),
            "{withheld} reached the command: {names:?}"
        );
    }
}
