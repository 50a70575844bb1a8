//! Validator keys, read by Rust from key files or one environment variable, never given out.
//!
//! A key file holds one secp256k1 key as 64 hex digits (an optional `0x`, ASCII white space
//! around it), the format of `fontana.bridge.keys`. Like ssh, a file that its group or
//! others may access (any bit of mode 077) is refused before it is read. The environment
//! variable holds one or more such keys separated by commas. Every buffer that held key
//! bytes is zeroized, and `k256`'s `SigningKey` zeroizes its scalar on drop.

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use k256::ecdsa::SigningKey;
use zeroize::Zeroizing;

use super::checkpoint::{address_of, sign, SIGNATURE_LEN};
use super::errors::BridgeError;

/// A key file is a line of hex; anything far larger is not one.
pub const MAX_KEY_FILE: usize = 4096;
/// The setting that names key files, for messages.
pub const FILES_SETTING: &str = "bridge.validator_keys";
/// The setting that names the environment variable, for messages.
pub const ENV_SETTING: &str = "bridge.validator_keys_env";

/// One validator's signing key and its address. Deliberately neither `Debug` nor `Clone`.
pub struct ValidatorKey {
    signing: SigningKey,
    address: [u8; 20],
}

impl ValidatorKey {
    /// A key from its 32 secret bytes: 1..n-1, as secp256k1 requires.
    pub fn from_secret(secret: &[u8; 32]) -> Option<Self> {
        let signing = SigningKey::from_slice(secret).ok()?;
        let address = address_of(signing.verifying_key());
        Some(ValidatorKey { signing, address })
    }

    pub fn address(&self) -> [u8; 20] {
        self.address
    }

    pub fn sign(&self, digest: &[u8; 32]) -> Result<[u8; SIGNATURE_LEN], BridgeError> {
        sign(&self.signing, digest)
    }
}

/// Python's `\s` under `re.ASCII`: space, \t, \n, \v, \f, \r.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `\s*(0x)?[0-9a-fA-F]{64}\s*`, the key file format; None for anything else.
pub fn parse_key(text: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
    let start = text
        .iter()
        .position(|b| !is_space(*b))
        .unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|b| !is_space(*b))
        .map_or(start, |i| i + 1);
    let body = text.get(start..end)?;
    let digits = body.strip_prefix(b"0x").unwrap_or(body);
    if digits.len() != 64 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut key = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(digits, key.as_mut()).ok()?;
    Some(key)
}

fn key_from_text(
    text: &[u8],
    fail: impl Fn(&str) -> BridgeError,
) -> Result<ValidatorKey, BridgeError> {
    let secret = parse_key(text).ok_or_else(|| fail("expected a secp256k1 key: 64 hex digits"))?;
    ValidatorKey::from_secret(&secret)
        .ok_or_else(|| fail("not a valid secp256k1 key (zero or not below the group order)"))
}

fn kind(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else {
        "of an unknown kind"
    }
}

fn reason(err: &std::io::Error) -> String {
    // The OS's words without Rust's "(os error N)" suffix, as Python's strerror.
    let text = err.to_string();
    match text.find(" (os error") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

/// The key in the file at `path`; refused when others may read it, like ssh.
///
/// Opened without blocking on a FIFO and without becoming a controlling terminal; the file
/// type, mode and size are checked on the open descriptor before anything is read.
pub fn read_key_file(path: &Path) -> Result<ValidatorKey, BridgeError> {
    let shown = path.display();
    let fail = |why: &str| BridgeError::Config(format!("{FILES_SETTING} {shown}: {why}"));
    let mut file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Err(fail("no such file")),
        Err(err) => return Err(fail(&format!("cannot open: {}", reason(&err)))),
    };
    let meta = file
        .metadata()
        .map_err(|err| fail(&format!("cannot read: {}", reason(&err))))?;
    if !meta.file_type().is_file() {
        return Err(fail(&format!(
            "not a regular file ({})",
            kind(meta.file_type())
        )));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(BridgeError::KeyPermissions(format!(
            "UNPROTECTED PRIVATE KEY FILE: permissions {mode:04o} for {shown} are too open; it \
             must not be accessible by others. Fix with: chmod 600 {shown}"
        )));
    }
    if meta.len() > MAX_KEY_FILE as u64 {
        return Err(fail(&format!("larger than {MAX_KEY_FILE} bytes")));
    }
    // A fixed buffer: nothing reallocates and leaves a copy of the key behind.
    let mut buffer = Zeroizing::new([0u8; MAX_KEY_FILE + 1]);
    let mut size = 0;
    while size < buffer.len() {
        match file.read(&mut buffer[size..]) {
            Ok(0) => break,
            Ok(n) => size += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(fail(&format!("cannot read: {}", reason(&err)))),
        }
    }
    if size > MAX_KEY_FILE {
        return Err(fail(&format!("larger than {MAX_KEY_FILE} bytes")));
    }
    key_from_text(&buffer[..size], fail)
}

/// A portable environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn valid_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The keys in environment variable `name`: 64 hex digits each, separated by commas.
pub fn read_key_env(name: &str) -> Result<Vec<ValidatorKey>, BridgeError> {
    if !valid_env_name(name) {
        return Err(BridgeError::Config(format!(
            "{ENV_SETTING} = {name:?}: expected an environment variable name"
        )));
    }
    let raw = std::env::var_os(name).ok_or_else(|| {
        BridgeError::Config(format!(
            "{ENV_SETTING}: the environment variable {name} is not set"
        ))
    })?;
    let text = Zeroizing::new(raw.into_vec());
    let parts: Vec<&[u8]> = text.split(|b| *b == b',').collect();
    let count = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            key_from_text(part, |why| {
                BridgeError::Config(format!(
                    "{ENV_SETTING}: key {} of {count} in {name}: {why}",
                    i + 1
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    const KEY: &str = "0101010101010101010101010101010101010101010101010101010101010101";

    fn write(dir: &Path, name: &str, body: &[u8], mode: u32) -> std::path::PathBuf {
        let path = dir.join(name);
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("fontana-keys-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn parses_the_key_file_format() {
        assert!(parse_key(KEY.as_bytes()).is_some());
        assert!(parse_key(format!(" 0x{KEY}\n").as_bytes()).is_some());
        assert!(parse_key(format!("\x0b{KEY}\x0c").as_bytes()).is_some());
        for bad in [
            &KEY[1..],
            &format!("{KEY}0"),
            &format!("0X{KEY}"),
            &format!("{KEY} x"),
            "",
        ] {
            assert!(parse_key(bad.as_bytes()).is_none(), "{bad:?}");
        }
        assert!(parse_key(&[0xff; 64]).is_none());
    }

    #[test]
    fn a_file_others_may_read_is_refused_before_reading() {
        let dir = temp_dir("perm");
        for mode in [0o644, 0o640, 0o604, 0o610, 0o601, 0o660] {
            let path = write(&dir, &format!("k{mode:o}"), KEY.as_bytes(), mode);
            match read_key_file(&path) {
                Err(BridgeError::KeyPermissions(m)) => {
                    assert!(
                        m.contains(&format!("{mode:04o}")) && m.contains("chmod 600"),
                        "{m}"
                    );
                    assert!(!m.contains(KEY));
                }
                Err(other) => panic!("mode {mode:o}: {other}"),
                Ok(_) => panic!("mode {mode:o} accepted"),
            }
        }
        let ok = write(&dir, "ok", format!("0x{KEY}\n").as_bytes(), 0o600);
        let key = read_key_file(&ok).unwrap();
        assert_eq!(
            hex::encode(key.address()),
            "1a642f0e3c3af545e7acbd38b07251b3990914f1"
        );
        let owner_only = write(&dir, "ro", KEY.as_bytes(), 0o400);
        assert!(read_key_file(&owner_only).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_files_are_config_errors_that_never_show_the_contents() {
        let dir = temp_dir("bad");
        let zero = "0".repeat(64);
        let order = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
        let secretish = format!("{}zz", &KEY[..62]);
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("short", KEY.as_bytes()[2..].to_vec(), "64 hex digits"),
            ("garbage", secretish.as_bytes().to_vec(), "64 hex digits"),
            ("zero", zero.as_bytes().to_vec(), "group order"),
            ("order", order.as_bytes().to_vec(), "group order"),
            ("huge", vec![b' '; MAX_KEY_FILE + 1], "larger than"),
        ];
        for (name, body, want) in cases {
            let path = write(&dir, name, &body, 0o600);
            match read_key_file(&path) {
                Err(BridgeError::Config(m)) => {
                    assert!(m.contains(want) && m.contains(name), "{name}: {m}");
                    assert!(!m.contains(&secretish[..40]), "{name}: {m}");
                }
                Err(other) => panic!("{name}: {other}"),
                Ok(_) => panic!("{name}: accepted"),
            }
        }
        match read_key_file(&dir.join("missing")) {
            Err(BridgeError::Config(m)) => assert!(m.ends_with("no such file"), "{m}"),
            _ => panic!("a missing file"),
        }
        match read_key_file(&dir) {
            Err(BridgeError::Config(m)) => assert!(m.contains("a directory"), "{m}"),
            _ => panic!("a directory"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn keys_from_the_environment() {
        let name = format!("FONTANA_TEST_RUST_KEYS_{}", std::process::id());
        std::env::set_var(&name, format!("{KEY}, 0x{}\n", "02".repeat(32)));
        let keys = read_key_env(&name).unwrap();
        assert_eq!(keys.len(), 2);
        std::env::set_var(&name, format!("{KEY},,{KEY}"));
        match read_key_env(&name) {
            Err(BridgeError::Config(m)) => {
                assert!(m.contains("key 2 of 3") && !m.contains(KEY), "{m}")
            }
            _ => panic!("an empty key was accepted"),
        }
        std::env::remove_var(&name);
        assert!(
            matches!(read_key_env(&name), Err(BridgeError::Config(m)) if m.contains("not set"))
        );
        for bad in ["", "1A", "A=B", "A\0B", "A B"] {
            assert!(
                matches!(read_key_env(bad), Err(BridgeError::Config(_))),
                "{bad:?}"
            );
        }
    }
}
