//! The allocator option `handler sweep` sets by number (handler/main.rs,
//! `release_freed_memory`): libmimalloc-sys declares no constant for it, so a mimalloc update
//! that renumbers its options must fail here, not silently set another option.

/// `MI_OPTION_PURGE_DELAY` in handler/main.rs.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

#[test]
fn option_15_is_mimallocs_purge_delay_with_its_default_of_one_second_and_can_be_set() {
    // `purge_delay` defaults to 1000 (ms); its neighbours in the enum,
    // `deprecated_eager_commit_delay` (14) and `use_numa_nodes` (16), default to 1 and 0, so a
    // renumbering by one fails here.
    assert_eq!(std::env::var_os("MIMALLOC_PURGE_DELAY"), None, "unset MIMALLOC_PURGE_DELAY to run this test");
    // SAFETY: reads an option value.
    let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
    assert_eq!(delay, 1000);
    // SAFETY: `mi_option_set` stores an option value; allowed at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    // SAFETY: as above.
    assert_eq!(unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }, 0);
}
