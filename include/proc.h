/*
 * The process: one libevent loop, signals, the 1 s tick, start and stop.
 */
#ifndef ESTCOAPD_PROC_H
#define ESTCOAPD_PROC_H

struct config;

/*
 * Start everything for cf and run until stopped; returns an exit code.
 * proc_run takes over the caller's reference to cf. Once the sockets are
 * bound and the loop is about to run, one zero byte is written to
 * ready_fd (unless it is -1) and the fd is closed.
 */
int	proc_run(struct config *cf, int ready_fd);

/*
 * Run as worker index of a master process (workers.h), before proc_run:
 * reloads keep the worker's own ports, and report_fd (non-blocking pipe)
 * hears "ready G", "alive G" once a second, "reloaded G" and
 * "reload-failed G", G being the configuration generation.
 */
void	proc_set_worker(unsigned index, int report_fd);

/* Stop the loop now, cancelling what is pending (SIGINT). */
void	proc_stop(void);

/* Finish pending enrollments, take no new ones, then stop (SIGTERM). */
void	proc_drain(void);

/* Re-read the config file and every file it names; swap or keep (SIGHUP). */
int	proc_reload(void);

/*
 * Read the next generation of old's file for a reload (worker >= 0: with
 * that worker's ports). NULL after logging why it cannot be used.
 */
struct config *proc_load_next(const struct config *old, int worker);

#endif
