/*
 * The process: one libevent loop, signals, the 1 s tick, start and stop.
 */
#ifndef ESTCOAPD_PROC_H
#define ESTCOAPD_PROC_H

struct config;

/*
 * Start everything for cf and run until stopped; returns an exit code.
 * Once the sockets are bound and the loop is about to run, one zero byte
 * is written to ready_fd (unless it is -1) and the fd is closed.
 */
int	proc_run(struct config *cf, int ready_fd);

/* Ask the loop to stop (what SIGTERM and SIGINT do). */
void	proc_stop(void);

#endif
