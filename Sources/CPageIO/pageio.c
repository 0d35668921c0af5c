// CPageIO: thin, loop-complete wrappers over the system calls the engine uses.
// Each returns a count or 0, or -errno; see CPageIO.h for why.
#define _GNU_SOURCE
#include "CPageIO.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <limits.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int cpageio_open(const char *path, int flags, int mode) {
    int fd;
    do { fd = open(path, flags | O_CLOEXEC, mode); } while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

int cpageio_close(int fd) { return close(fd) < 0 ? -errno : 0; }

int64_t cpageio_pwrite_all(int fd, const void *buf, size_t count, int64_t offset) {
    const char *p = buf;
    size_t done = 0;
    while (done < count) {
        ssize_t n = pwrite(fd, p + done, count - done, (off_t)(offset + (int64_t)done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (n == 0) return -EIO;
        done += (size_t)n;
    }
    return (int64_t)done;
}

int64_t cpageio_pwritev_all(int fd, struct iovec *iov, int count, int64_t offset) {
    int64_t done = 0;
    while (count > 0) {
        ssize_t n = pwritev(fd, iov, count > IOV_MAX ? IOV_MAX : count, (off_t)(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (n == 0) return -EIO;
        done += n;
        // Skip the buffers written whole, then advance into a partly written one.
        while (count > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            count--;
        }
        if (count > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return done;
}

int64_t cpageio_pread_all(int fd, void *buf, size_t count, int64_t offset) {
    char *p = buf;
    size_t done = 0;
    while (done < count) {
        ssize_t n = pread(fd, p + done, count - done, (off_t)(offset + (int64_t)done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (n == 0) break;
        done += (size_t)n;
    }
    return (int64_t)done;
}

int cpageio_fdatasync(int fd) {
    int rc;
    do { rc = fdatasync(fd); } while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : 0;
}

int cpageio_fsync(int fd) {
    int rc;
    do { rc = fsync(fd); } while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : 0;
}

int cpageio_ftruncate(int fd, int64_t size) {
    int rc;
    do { rc = ftruncate(fd, (off_t)size); } while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : 0;
}

int cpageio_grow(int fd, int64_t size) {
    int rc;
    do { rc = fallocate(fd, 0, 0, (off_t)size); } while (rc < 0 && errno == EINTR);
    if (rc == 0) return 0;
    if (errno != EOPNOTSUPP && errno != ENOSYS) return -errno;
    return cpageio_ftruncate(fd, size);
}

int64_t cpageio_file_size(int fd) {
    struct stat st;
    if (fstat(fd, &st) < 0) return -errno;
    return (int64_t)st.st_size;
}

int cpageio_flock(int fd, int exclusive) {
    int rc;
    do { rc = flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB); } while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : 0;
}

int cpageio_funlock(int fd) { return flock(fd, LOCK_UN) < 0 ? -errno : 0; }

int cpageio_mmap_readonly(int fd, size_t length, void **out) {
    void *p = mmap(NULL, length, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return -errno;
    *out = p;
    return 0;
}

int cpageio_reserve(size_t length, void **out) {
    void *p = mmap(NULL, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return -errno;
    *out = p;
    return 0;
}

int cpageio_mmap_fixed(int fd, void *addr, size_t length) {
    void *p = mmap(addr, length, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
    if (p == MAP_FAILED) return -errno;
    return 0;
}

int cpageio_munmap(void *addr, size_t length) { return munmap(addr, length) < 0 ? -errno : 0; }

int cpageio_madvise_random(void *addr, size_t length) {
    return madvise(addr, length, MADV_RANDOM) < 0 ? -errno : 0;
}

int cpageio_os_page_size(void) { return (int)sysconf(_SC_PAGESIZE); }

int64_t cpageio_now_millis(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t cpageio_monotonic_nanos(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int cpageio_fsync_dir(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = cpageio_fsync(fd);
    close(fd);
    return rc;
}

int cpageio_rename(const char *from, const char *to) { return rename(from, to) < 0 ? -errno : 0; }

int cpageio_unlink(const char *path) { return unlink(path) < 0 ? -errno : 0; }

int cpageio_exists(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0) return 1;
    return errno == ENOENT ? 0 : -errno;
}
