/*
 * pingpong_drift: is a cross-core round trip's cost steady on this machine?
 *
 * Two threads pinned to CPUs 0 and 1 pass one byte back and forth over two pipes, as the
 * lab's `switch / thread / pingpong_cross_core` does (lab/src/workloads/pipe.rs), and print
 * the mean round trip of each chunk of 500, then the batch's mean. On a machine where the
 * figure is steady every chunk reads alike; on the 2-core VM of docs/results the first 500
 * read lower than the rest in 21 of 22 batches (57-98 us, against mostly 90-120 us), so a
 * batch of 1,000 (`--quick`) without a warm-up measures a transient. docs/lab.md, "Checks against trusted tools", says what that does to the check.
 *
 *   gcc -O2 -pthread -o /tmp/pingpong_drift tools/pingpong_drift.c
 *   /tmp/pingpong_drift ROUND_TRIPS REPEATS      # e.g. 5000 4
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

enum { CHUNK = 500 };
static int ping[2], pong[2];

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        perror("sched_setaffinity");
        exit(2);
    }
}

static void *echo(void *unused) {
    (void)unused;
    pin(1);
    char byte;
    while (read(ping[0], &byte, 1) == 1 && write(pong[1], &byte, 1) == 1) {
    }
    return NULL;
}

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
    if (argc != 3 || atol(argv[1]) < 1 || atoi(argv[2]) < 1) {
        fprintf(stderr, "usage: %s ROUND_TRIPS REPEATS\n", argv[0]);
        return 2;
    }
    long round_trips = atol(argv[1]);
    int repeats = atoi(argv[2]);
    pin(0);
    for (int r = 0; r < repeats; r++) {
        if (pipe(ping) != 0 || pipe(pong) != 0) {
            perror("pipe");
            return 2;
        }
        pthread_t echo_thread;
        if (pthread_create(&echo_thread, NULL, echo, NULL) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 2;
        }
        printf("%ld round trips, us per round trip by chunk of %d:", round_trips, CHUNK);
        char byte = 0;
        double total = 0;
        for (long done = 0; done < round_trips;) {
            long chunk = round_trips - done < CHUNK ? round_trips - done : CHUNK;
            double start = now_us();
            for (long i = 0; i < chunk; i++) {
                if (write(ping[1], &byte, 1) != 1 || read(pong[0], &byte, 1) != 1) {
                    perror("ping-pong");
                    return 2;
                }
            }
            double took = now_us() - start;
            total += took;
            done += chunk;
            printf(" %.0f", took / chunk);
        }
        printf("  | mean %.1f\n", total / round_trips);
        close(ping[1]);
        pthread_join(echo_thread, NULL);
        close(ping[0]);
        close(pong[0]);
        close(pong[1]);
    }
    return 0;
}
