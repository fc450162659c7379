/*
 * Giving freed heap back to the system after many sessions went away.
 * glibc's malloc returns memory to the kernel only from the top of the
 * heap; the pages of thousands of reclaimed DTLS sessions (about 50 KB
 * each) stay resident below live chunks until malloc_trim(3). The second
 * tick asks memtrim_due with the live session count; it says "trim" when
 * the count fell by a quarter of its peak since the last trim (and by at
 * least MEMTRIM_MIN_DROP) and has stopped falling, so a trim, which walks
 * the heap, runs once after a large reclaim, a tick after its last
 * session went (their records and buffers are freed after the tick that
 * counted them gone), and never per request nor in steady churn of a few.
 */
#ifndef ESTCOAPD_MEMTRIM_H
#define ESTCOAPD_MEMTRIM_H

/* Fewer sessions gone than this never trims. */
#define MEMTRIM_MIN_DROP	256

struct memtrim {
	unsigned	 peak;		/* most live sessions since the last trim */
	unsigned	 prev;		/* live sessions at the last tick */
};

/*
 * Note the live session count; 1 when freed memory should go back now
 * (the peak restarts from sessions), else 0. Pure.
 */
int	memtrim_due(struct memtrim *, unsigned sessions);

/* memtrim_due, and malloc_trim(0) when it says so (glibc only). */
void	memtrim_tick(struct memtrim *, unsigned sessions);

#endif
