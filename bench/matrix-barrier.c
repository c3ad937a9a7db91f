/* bench/matrix.py's barrier inside a dynamically linked job (LD_PRELOAD=this,
 * built by matrix.py with cc): the process starts, loads and runs as usual, and
 * its first connect() waits until the benchmark releases every job at once. The
 * job says it has arrived by writing one byte to fd 4, then blocks reading fd 3
 * (a pipe whose write end the benchmark closes). Every other call is untouched;
 * threads that connect while the first one waits wait with it. The node
 * counterpart is matrix-barrier.cjs. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int released;

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
  static int (*real_connect)(int, const struct sockaddr *, socklen_t);
  if (!real_connect) real_connect = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
  pthread_mutex_lock(&lock);
  if (!released) {
    char byte = 'r';
    ssize_t n;
    released = 1;
    if (write(4, &byte, 1) != 1) _exit(125); /* not started by bench/matrix.py */
    close(4);
    while ((n = read(3, &byte, 1)) < 0 && errno == EINTR) {
    }
    close(3);
    if (n != 0) _exit(125);
  }
  pthread_mutex_unlock(&lock);
  return real_connect(fd, addr, len);
}
