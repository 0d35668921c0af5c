// CPageIO: the only C the Witchbolt engine needs.
//
// Every function returns a byte count or 0 on success, or -errno on failure, so that Swift
// never reads `errno` after an intervening call (which Swift does not guarantee to preserve).
// The loops on short transfers and EINTR live here, and only here.
#ifndef CPAGEIO_H
#define CPAGEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/// Opens `path` with `flags` and `mode`; returns the descriptor or -errno.
int cpageio_open(const char *path, int flags, int mode);
/// Closes `fd`; returns 0 or -errno.
int cpageio_close(int fd);
/// Writes all `count` bytes at `offset`, looping on short writes and EINTR; returns count or -errno.
int64_t cpageio_pwrite_all(int fd, const void *buf, size_t count, int64_t offset);
/// Writes all bytes of `count` buffers, contiguous in the file from `offset`, with pwritev,
/// looping on short writes and EINTR (it advances `iov` in place); returns the total or -errno.
int64_t cpageio_pwritev_all(int fd, struct iovec *iov, int count, int64_t offset);
/// Reads up to `count` bytes at `offset`, looping on short reads and EINTR until EOF; returns bytes read or -errno.
int64_t cpageio_pread_all(int fd, void *buf, size_t count, int64_t offset);
/// Flushes file data (not necessarily metadata) to stable storage; returns 0 or -errno.
int cpageio_fdatasync(int fd);
/// Flushes file data and metadata; returns 0 or -errno.
int cpageio_fsync(int fd);
/// Sets the file size; returns 0 or -errno.
int cpageio_ftruncate(int fd, int64_t size);
/// Grows the file to `size` bytes with its blocks allocated (fallocate), so that later writes
/// into the new pages need no block allocation; falls back to ftruncate where the file
/// system cannot allocate. Returns 0 or -errno.
int cpageio_grow(int fd, int64_t size);
/// Returns the file size, or -errno.
int64_t cpageio_file_size(int fd);
/// Takes an flock: `exclusive` or shared, never blocking; returns 0, or -EWOULDBLOCK when held elsewhere, or -errno.
int cpageio_flock(int fd, int exclusive);
/// Releases the flock; returns 0 or -errno.
int cpageio_funlock(int fd);
/// Maps `length` bytes of `fd` read-only and shared; stores the address in `*out`; returns 0 or -errno.
/// (MAP_FAILED is a macro Swift cannot import, hence this wrapper.)
int cpageio_mmap_readonly(int fd, size_t length, void **out);
/// Reserves `length` bytes of address space with no access; returns 0 or -errno.
int cpageio_reserve(size_t length, void **out);
/// Maps `length` bytes of `fd` read-only over an existing reservation at `addr` (MAP_FIXED); returns 0 or -errno.
int cpageio_mmap_fixed(int fd, void *addr, size_t length);
/// Unmaps; returns 0 or -errno.
int cpageio_munmap(void *addr, size_t length);
/// Advises random access; returns 0 or -errno.
int cpageio_madvise_random(void *addr, size_t length);
/// Returns the OS page size.
int cpageio_os_page_size(void);
/// Wall-clock time in milliseconds since the Unix epoch.
int64_t cpageio_now_millis(void);
/// Monotonic time in nanoseconds.
uint64_t cpageio_monotonic_nanos(void);
/// fsyncs the directory at `path`; returns 0 or -errno.
int cpageio_fsync_dir(const char *path);
/// Renames atomically; returns 0 or -errno.
int cpageio_rename(const char *from, const char *to);
/// Removes a file; returns 0 or -errno.
int cpageio_unlink(const char *path);
/// Returns 1 when `path` exists, 0 when not, -errno on another failure.
int cpageio_exists(const char *path);

#endif
