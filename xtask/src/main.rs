//! `cargo xtask run` and `cargo xtask test`: the README's two commands, and
//! `cargo xtask dist`, the web client's release build they both use.
//!
//! All install what the machine lacks first (the wasm target, trunk, the
//! wasm-bindgen CLI matching Cargo.lock, the client's pinned nightly
//! toolchain, and for tests Chromium with its driver and redis-server),
//! skipping whatever is already there at the right version.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

mod assets;
mod emoji;

/// The toolchain every step builds with (the client's release build aside):
/// pinned, so that a newer Rust's new lints cannot turn `clippy -D
/// warnings` red on a new machine while an older one stays green. Not a
/// `rust-toolchain.toml`: rustup no longer installs a toolchain a file
/// names, so on a new machine the first `cargo xtask` would stop there.
const TOOLCHAIN: &str = "1.95.0";
/// trunk 0.22 needs a newer rustc than this project's; 0.21.14 is verified.
const TRUNK_VERSION: &str = "0.21.14";
const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// The toolchain of the web client's release build: nightly, pinned, for
/// three unstable options that take a sixth off the download (see
/// BENCHMARKS.md, "Web client size"). Everything else, `trunk serve`
/// included, builds with the stable toolchain.
const CLIENT_TOOLCHAIN: &str = "nightly-2026-05-20";
/// Rebuilds the standard library for the client with its size-first
/// profile, instead of linking the prebuilt one (built for speed, and
/// carrying panic messages).
const CLIENT_BUILD_STD: &str = "std,panic_abort";
/// The standard library's smaller algorithms (its sorts, say): the
/// client's lists are short.
const CLIENT_STD_FEATURES: &str = "optimize_for_size";
/// A panic stops the client at once, without formatting a message
/// (`immediate-abort`), and `{:?}` formats nothing (`fmt-debug=none`): both
/// only ever reached the browser's console. What users see is formatted
/// with `Display`. Without reference types, wasm-bindgen keeps JS objects
/// in a JS array instead of a wasm table: 2.3 KB less gzip (BENCHMARKS.md,
/// "A name you can keep"). LLVM's inlining threshold at 10: 0.7 KB less
/// gzip than opt-level z's own at 2249e76, and no smooth curve (0, 5 and
/// 20 are all larger: BENCHMARKS.md, "Web client size"), so measure again
/// when the client changes much.
const CLIENT_RUSTFLAGS: &str =
    "-Zunstable-options -Cpanic=immediate-abort -Zfmt-debug=none -Ctarget-feature=-reference-types -Cllvm-args=--inline-threshold=10";

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Set up, run and test the chat room")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install what is missing and build the web client in release into
    /// dist/, as the server serves it.
    Dist,
    /// Install what is missing, build the web client in release, and serve
    /// the room at http://127.0.0.1:8000 (arguments after `--` go to the server).
    Run {
        #[arg(last = true)]
        server_args: Vec<String>,
    },
    /// Everything CI checks: formatting, clippy, and every test, browser
    /// tests included; then the server's tests again on Redis.
    Test,
    /// Build the server as one static Linux file with the web client
    /// inside it (x86_64-unknown-linux-musl), and print where and how big.
    Release,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Dist => dist(),
        Task::Run { server_args } => run(&server_args),
        Task::Test => test(),
        Task::Release => release().map(|_| ()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

fn dist() -> Result {
    let toolchain = install_build_tools()?;
    build_client(toolchain)
}

fn run(server_args: &[String]) -> Result {
    dist()?;
    let mut server = cargo();
    server.args(["run", "--release", "--package", "server", "--"]);
    server.args(server_args);
    step("starting the server (Ctrl-C stops it)", &mut server)
}

/// The target of the release binary: statically linked, so it runs on any
/// x86-64 Linux whatever its C library.
const RELEASE_TARGET: &str = "x86_64-unknown-linux-musl";

/// `cargo xtask release`: the client built, then the server with it
/// inside, for [`RELEASE_TARGET`] (its standard library and a musl C
/// compiler, for SQLite and jemalloc, installed when missing). Returns
/// the binary's path.
fn release() -> Result<PathBuf> {
    dist()?;
    build_release_server()
}

/// The server's release build for [`RELEASE_TARGET`], embedding dist/ as
/// it is now.
fn build_release_server() -> Result<PathBuf> {
    let targets = output(Command::new("rustup").args([
        "target",
        "list",
        "--installed",
        "--toolchain",
        TOOLCHAIN,
    ]))?;
    if !targets
        .lines()
        .any(|target| target.trim() == RELEASE_TARGET)
    {
        step(
            &format!("adding the {RELEASE_TARGET} target (once)"),
            Command::new("rustup").args([
                "target",
                "add",
                RELEASE_TARGET,
                "--toolchain",
                TOOLCHAIN,
            ]),
        )?;
    }
    if !on_path("musl-gcc") {
        if !on_path("apt-get") {
            return Err("the static build needs musl-gcc on PATH (Debian: musl-tools)".to_owned());
        }
        step("updating the package lists", apt_get().arg("update"))?;
        step(
            "installing musl-tools (a C compiler for the static build)",
            apt_get()
                .args(["install", "-y", "--no-install-recommends", "musl-tools"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }
    step(
        &format!("building the server with the client inside ({RELEASE_TARGET}, release)"),
        cargo()
            .args(["build", "--release", "--locked", "--package", "server"])
            .args(["--features", "embed-client", "--target", RELEASE_TARGET])
            // Symbols only matter to a debugger; a panic's message and
            // location survive stripping.
            .env("CARGO_PROFILE_RELEASE_STRIP", "symbols"),
    )?;
    let binary = workspace_root()
        .join("target")
        .join(RELEASE_TARGET)
        .join("release/server");
    let bytes = std::fs::metadata(&binary)
        .map_err(|e| format!("{}: {e}", binary.display()))?
        .len();
    println!(
        "xtask: {} ({:.1} MB): copy this one file anywhere and run it",
        binary.display(),
        bytes as f64 / 1e6
    );
    Ok(binary)
}

fn test() -> Result {
    let toolchain = install_build_tools()?;
    install_test_services()?;
    step(
        "checking formatting",
        cargo().args(["fmt", "--all", "--", "--check"]),
    )?;
    build_client(toolchain)?;
    // Every feature: the release's client built in (which needs dist/) too.
    step(
        "running clippy",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    // The one-file server, which a browser test runs alone.
    let release_binary = build_release_server()?;
    step(
        "running every test (the room's log in SQLite)",
        cargo()
            .args(["test", "--workspace"])
            .env("CHAT_RELEASE_BINARY", &release_binary),
    )?;
    let redis = TestRedis::start()?;
    // The binaries the pass above built, run again directly. Asking cargo for
    // the server's test targets alone (`--test chat ...`) resolves the
    // proc-macro crates' features apart from the web client's and builds
    // every crate a second time: twice the time, and a target directory that
    // outgrew CI's disk.
    for test in server_test_binaries()? {
        step(
            &format!(
                "running the server's {} tests again, the room's log in Redis",
                test.name
            ),
            Command::new(&test.executable)
                .current_dir(workspace_root().join("server"))
                .env("CARGO_MANIFEST_DIR", workspace_root().join("server"))
                .env("CHAT_TEST_REDIS_URL", redis.url()),
        )?;
    }
    Ok(())
}

/// One integration test binary of the server, as `cargo test` built it.
struct TestBinary {
    name: String,
    executable: PathBuf,
}

/// The server's integration tests (server/tests), as built by the same
/// `cargo test --workspace` that ran them: asked again with `--no-run`, cargo
/// finds everything fresh and lists the executables.
fn server_test_binaries() -> Result<Vec<TestBinary>> {
    let listing =
        output(cargo().args(["test", "--workspace", "--no-run", "--message-format=json"]))?;
    let mut binaries = Vec::new();
    for line in listing.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let target = &message["target"];
        let is_server_test = message["reason"] == "compiler-artifact"
            && target["kind"] == serde_json::json!(["test"])
            && target["src_path"].as_str().is_some_and(|path| {
                Path::new(path).starts_with(workspace_root().join("server/tests"))
            });
        if let (true, Some(name), Some(executable)) = (
            is_server_test,
            target["name"].as_str(),
            message["executable"].as_str(),
        ) {
            binaries.push(TestBinary {
                name: name.to_owned(),
                executable: PathBuf::from(executable),
            });
        }
    }
    binaries.sort_by(|a, b| a.name.cmp(&b.name));
    if binaries.is_empty() {
        return Err("cargo listed no test binary of the server".to_owned());
    }
    Ok(binaries)
}

/// The toolchain the web client's release build runs on.
#[derive(Clone, Copy)]
enum ClientToolchain {
    /// [`CLIENT_TOOLCHAIN`], with the standard library rebuilt for size.
    PinnedNightly,
    /// The default toolchain, when the pinned nightly cannot be installed:
    /// the same client, about a fifth larger.
    Stable,
}

fn install_build_tools() -> Result<ClientToolchain> {
    install_toolchain()?;
    if !reports_version("trunk", TRUNK_VERSION) {
        step(
            "installing trunk (about 9 minutes, once)",
            cargo().args(["install", "trunk", "--version", TRUNK_VERSION, "--locked"]),
        )?;
    }
    let bindgen = wasm_bindgen_version()?;
    if !reports_version("wasm-bindgen", &bindgen) {
        // Not `--locked`: one of its locked dependencies is not served by
        // every registry mirror (see ../shared/TOOLCHAIN.md).
        step(
            &format!("installing wasm-bindgen-cli {bindgen} (about 4 minutes, once)"),
            cargo().args(["install", "wasm-bindgen-cli", "--version", &bindgen]),
        )?;
    }
    Ok(install_client_toolchain())
}

/// Installs [`TOOLCHAIN`] with what the steps use (rustfmt, clippy, the
/// wasm target) when any of it is missing.
fn install_toolchain() -> Result {
    let installed = output(Command::new("rustup").args([
        "component",
        "list",
        "--installed",
        "--toolchain",
        TOOLCHAIN,
    ]))
    .unwrap_or_default();
    let needed = [
        "rustfmt".to_owned(),
        "clippy".to_owned(),
        format!("rust-std-{WASM_TARGET}"),
    ];
    let has = |component: &String| {
        installed
            .lines()
            .any(|line| line.trim().starts_with(component.as_str()))
    };
    if needed.iter().all(has) {
        return Ok(());
    }
    step(
        &format!("installing Rust {TOOLCHAIN} with rustfmt, clippy and the wasm32 target (once)"),
        Command::new("rustup").args([
            "toolchain",
            "install",
            TOOLCHAIN,
            "--profile",
            "minimal",
            "--component",
            "rustfmt,clippy",
            "--target",
            WASM_TARGET,
        ]),
    )
}

/// Installs the pinned nightly with `rust-src` when missing. A machine that
/// cannot have it (no route to that date's toolchain) still builds the
/// client, on stable, after one warning.
fn install_client_toolchain() -> ClientToolchain {
    let components = output(Command::new("rustup").args([
        "component",
        "list",
        "--installed",
        "--toolchain",
        CLIENT_TOOLCHAIN,
    ]));
    let has_rust_src = |components: Result<String>| {
        components.is_ok_and(|components| components.lines().any(|c| c == "rust-src"))
    };
    if has_rust_src(components) {
        return ClientToolchain::PinnedNightly;
    }
    let installed = step(
        &format!("installing the client's toolchain, {CLIENT_TOOLCHAIN} (once)"),
        Command::new("rustup").args([
            "toolchain",
            "install",
            CLIENT_TOOLCHAIN,
            "--profile",
            "minimal",
            "--component",
            "rust-src",
        ]),
    );
    match installed {
        Ok(()) => ClientToolchain::PinnedNightly,
        Err(error) => {
            eprintln!(
                "xtask: warning: {error}; building the web client on stable instead \
                 (it works the same but is about a fifth larger)"
            );
            ClientToolchain::Stable
        }
    }
}

/// geckodriver, Firefox's WebDriver server, from crates.io.
const GECKODRIVER_VERSION: &str = "0.37.1";

/// What the tests run besides cargo, when missing: from Debian, Chromium
/// and its driver and Firefox ESR for the browser tests, npm for their
/// accessibility auditor (axe-core, which they install), redis-server for
/// the cluster tests, nginx for the tests behind a reverse proxy; from
/// crates.io, geckodriver.
fn install_test_services() -> Result {
    install_debian_packages()?;
    if !reports_version("geckodriver", GECKODRIVER_VERSION) {
        step(
            "installing geckodriver (about 3 minutes, once)",
            cargo().args([
                "install",
                "geckodriver",
                "--version",
                GECKODRIVER_VERSION,
                "--locked",
            ]),
        )?;
    }
    Ok(())
}

fn install_debian_packages() -> Result {
    let missing: Vec<&str> = [
        ("chromium", "chromium"),
        ("chromedriver", "chromium-driver"),
        ("firefox-esr", "firefox-esr"),
        ("npm", "npm"),
        ("redis-server", "redis-server"),
        ("nginx", "nginx"),
    ]
    .into_iter()
    .filter(|(tool, _)| !on_path(tool))
    .map(|(_, package)| package)
    .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !on_path("apt-get") {
        return Err(format!(
            "the tests need these on PATH: {}",
            missing.join(", ")
        ));
    }
    step("updating the package lists", apt_get().arg("update"))?;
    step(
        &format!("installing {}", missing.join(", ")),
        apt_get()
            .args(["install", "-y", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// A redis-server on a loopback port for the length of the test run; the
/// server's tests run on it a second time, each in keys of its own.
struct TestRedis {
    process: Child,
    port: u16,
}

impl TestRedis {
    fn start() -> Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|e| format!("cannot find a free port: {e}"))?
            .port();
        let process = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server: {e}"))?;
        let redis = Self { process, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !redis.answers_ping() {
            if Instant::now() > deadline {
                return Err(format!("redis-server on port {port} did not start"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let mut reply = [0; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// `apt-get`, through sudo unless we are root already.
fn apt_get() -> Command {
    if is_root() {
        Command::new("apt-get")
    } else {
        let mut sudo = Command::new("sudo");
        sudo.arg("apt-get");
        sudo
    }
}

/// Builds the client into dist/. trunk runs cargo offline (Trunk.toml), so
/// every crate the build reads is fetched first: the workspace's, and on
/// the nightly the standard library's own, which `-Zbuild-std` compiles. A
/// new machine's registry cache has neither.
fn build_client(toolchain: ClientToolchain) -> Result {
    step(
        "fetching the workspace's dependencies",
        cargo().args(["fetch", "--locked"]),
    )?;
    let mut trunk = Command::new("trunk");
    trunk
        .args(["build", "--release"])
        .env("RUSTUP_TOOLCHAIN", TOOLCHAIN)
        .current_dir(workspace_root());
    if let ClientToolchain::PinnedNightly = toolchain {
        let library = client_toolchain_library()?;
        step(
            "fetching the standard library's dependencies",
            Command::new("cargo")
                .args(["fetch", "--locked", "--manifest-path"])
                .arg(library.join("Cargo.toml"))
                .env("RUSTUP_TOOLCHAIN", CLIENT_TOOLCHAIN),
        )?;
        trunk
            .env("RUSTUP_TOOLCHAIN", CLIENT_TOOLCHAIN)
            .env("CARGO_UNSTABLE_BUILD_STD", CLIENT_BUILD_STD)
            .env("CARGO_UNSTABLE_BUILD_STD_FEATURES", CLIENT_STD_FEATURES)
            .env(
                "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
                CLIENT_RUSTFLAGS,
            );
    }
    step("building the web client (release)", &mut trunk)?;
    println!("xtask: minifying and precompressing the web client");
    assets::finish(&workspace_root().join("dist"))
}

/// The pinned nightly's copy of the standard library's sources (`rust-src`).
fn client_toolchain_library() -> Result<PathBuf> {
    let sysroot = output(
        Command::new("rustc")
            .args(["--print", "sysroot"])
            .env("RUSTUP_TOOLCHAIN", CLIENT_TOOLCHAIN),
    )?;
    Ok(Path::new(sysroot.trim()).join("lib/rustlib/src/rust/library"))
}

/// The version of the `wasm-bindgen` crate in Cargo.lock, which the CLI must
/// match exactly or trunk tries to download one.
fn wasm_bindgen_version() -> Result<String> {
    let pkgid = output(cargo().args(["pkgid", "--package", "wasm-bindgen"]))?;
    pkgid
        .trim()
        .rsplit_once('@')
        .map(|(_, version)| version.to_owned())
        .ok_or_else(|| format!("unexpected `cargo pkgid` output: {pkgid}"))
}

fn reports_version(tool: &str, version: &str) -> bool {
    output(Command::new(tool).arg("--version"))
        .is_ok_and(|out| out.split_whitespace().any(|word| word == version))
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0")
}

/// cargo of [`TOOLCHAIN`], through rustup's proxy (`$CARGO` is the cargo
/// of whatever toolchain ran xtask).
fn cargo() -> Command {
    let mut command = Command::new("cargo");
    command
        .env("RUSTUP_TOOLCHAIN", TOOLCHAIN)
        .current_dir(workspace_root());
    command
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Runs a step with its output on the terminal; fails if it fails.
fn step(what: &str, command: &mut Command) -> Result {
    eprintln!("xtask: {what}");
    let status = command
        .status()
        .map_err(|e| format!("{what}: cannot start {:?}: {e}", command.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what}: {status}"))
    }
}

/// Runs a command quietly and returns its standard output.
fn output(command: &mut Command) -> Result<String> {
    let out = command
        .output()
        .map_err(|e| format!("cannot start {:?}: {e}", command.get_program()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{:?} failed: {}",
            command.get_program(),
            out.status
        ))
    }
}
