//! Privilege separation for mail servers: privilege drop, chroot, rlimits, no_new_privs, seccomp, descriptor passing.
#![deny(unsafe_code)]
