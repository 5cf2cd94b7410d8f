#![no_main]
//! Message file names and folder directory names from disk: never panic;
//! flags rewritten keep the base name; folder names decode and re-encode.

use columba_maildir::{Maildir, MaildirFilename};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(f) = MaildirFilename::parse(name) {
        let _ = (f.size(), f.vsize());
        let info = f.info().unwrap_or_default();
        let renamed = f.with_info(&info);
        let again = MaildirFilename::parse(renamed.as_str()).expect("renamed name parses");
        assert_eq!(again.base(), f.base());
        assert_eq!(again.info().unwrap_or_default().letters(), info.letters());
    }
    if let Ok(folder) = Maildir::name_of_dir(name) {
        if let Ok(dir) = Maildir::dir_name(&folder) {
            assert_eq!(Maildir::name_of_dir(&dir).expect("own directory name decodes"), folder);
        }
    }
    if let Ok(decoded) = columba_maildir::mutf7::decode(name) {
        assert_eq!(columba_maildir::mutf7::decode(&columba_maildir::mutf7::encode(&decoded)).unwrap(), decoded);
    }
});
