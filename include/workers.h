/*
 * service.workers > 1: a master process that forks and supervises one
 * worker process per slot, and the nftables rule that spreads devices
 * over the workers' ports (estcoapd -W).
 *
 * Worker i (0-based) is an ordinary estcoapd loop (proc_run) on every
 * listen port + i and on service.metrics_port + i. libcoap 4.3.1 sets no
 * SO_REUSEPORT, so the workers cannot share one socket: the public port
 * is worker 0's, and an nftables jhash over the source address and port
 * sends each device to one worker, always the same one while the number
 * of workers does not change.
 */
#ifndef ESTCOAPD_WORKERS_H
#define ESTCOAPD_WORKERS_H

#include <stdio.h>

struct config;

/*
 * Run the master for cf (cf->workers > 1); takes over the caller's
 * reference. Returns the master's exit code, or, in a forked worker, the
 * worker's exit code once its loop has ended (the caller just returns
 * it). ready_fd is as for proc_run: written once every worker is ready.
 */
int	workers_run(struct config *cf, int ready_fd);

/* Print the nft(8) ruleset that spreads cf's listen ports (-W). */
void	workers_nft(const struct config *cf, FILE *fp);

#endif
