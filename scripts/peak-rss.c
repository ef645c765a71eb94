/* peak-rss OUT COMMAND...: run a command, then write its wall time and peak memory to OUT.
 *
 * `make bench` needs the peak memory of the runtime alone. Python cannot measure it:
 * a child forked by Python starts as a copy of Python, and the kernel's "max RSS"
 * (ru_maxrss) keeps that copy's size across execve. This launcher is a few hundred
 * kilobytes, so what wait4 reports is the largest resident set of any process in the
 * command's tree (the runtime, its helper processes, the container's program).
 *
 * OUT gets one line: "<exit status> <wall nanoseconds> <max rss KiB>". */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: peak-rss OUT COMMAND [ARG...]\n");
        return 2;
    }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror(argv[2]);
        _exit(127);
    }
    int status = 0;
    struct rusage usage;
    if (wait4(pid, &status, 0, &usage) < 0) {
        perror("wait4");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    long long ns = (end.tv_sec - start.tv_sec) * 1000000000LL + (end.tv_nsec - start.tv_nsec);
    FILE *out = fopen(argv[1], "w");
    if (!out) {
        perror(argv[1]);
        return 2;
    }
    fprintf(out, "%d %lld %ld\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), ns,
            usage.ru_maxrss);
    return fclose(out) == 0 ? 0 : 2;
}
