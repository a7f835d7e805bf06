/*
 * e2e-reaper DIR COMMAND [ARGS...]
 *
 * Runs COMMAND as a child subreaper (PR_SET_CHILD_SUBREAPER), so every
 * process it leaves behind (vgpu-xl-create starts vgpu-ioreqd with setsid
 * and exits) is reparented to us instead of PID 1. Records each reaped
 * process's exit status in DIR/exit.<pid> (a number; 128+N for signal N) and
 * COMMAND's own pid and status in DIR/main.pid and DIR/main.exit. Exits when
 * no descendants are left. This lets the e2e Dom0 check "the daemon exited 0"
 * without changing how the launcher starts it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void write_file(const char* dir, const char* name, long value) {
  char path[4096], tmp[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE* f = fopen(tmp, "w");
  if (!f) {
    fprintf(stderr, "e2e-reaper: %s: %s\n", tmp, strerror(errno));
    return;
  }
  fprintf(f, "%ld\n", value);
  fclose(f);
  rename(tmp, path);
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: e2e-reaper DIR COMMAND [ARGS...]\n");
    return 2;
  }
  const char* dir = argv[1];
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    perror("e2e-reaper: PR_SET_CHILD_SUBREAPER");
    return 1;
  }
  pid_t main_pid = fork();
  if (main_pid < 0) {
    perror("e2e-reaper: fork");
    return 1;
  }
  if (main_pid == 0) {
    execvp(argv[2], argv + 2);
    fprintf(stderr, "e2e-reaper: exec %s: %s\n", argv[2], strerror(errno));
    _exit(127);
  }
  write_file(dir, "main.pid", main_pid);
  int main_status = -1;
  for (;;) {
    int st;
    pid_t pid = waitpid(-1, &st, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break; /* ECHILD: nothing left */
    }
    long code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    char name[64];
    snprintf(name, sizeof name, "exit.%ld", (long)pid);
    write_file(dir, name, code);
    if (pid == main_pid) {
      main_status = (int)code;
      write_file(dir, "main.exit", code);
    }
  }
  return main_status < 0 ? 1 : main_status;
}
