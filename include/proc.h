/*
 * The process: one libevent loop, signals, the 1 s tick, start and stop.
 */
#ifndef ESTCOAPD_PROC_H
#define ESTCOAPD_PROC_H

struct config;

/* Start everything for cf and run until stopped; returns an exit code. */
int	proc_run(struct config *cf);

/* Ask the loop to stop (what SIGTERM and SIGINT do). */
void	proc_stop(void);

#endif
