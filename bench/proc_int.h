/* Shared by proc.c and echo.c: children that bench_proc_stop_all kills. */
#ifndef PW_BENCH_PROC_INT_H
#define PW_BENCH_PROC_INT_H

#include <sys/types.h>

/*
 * fork(), recording the child.  In the child: default signal handlers
 * and SIGKILL when the parent dies.  -1 when CHILDREN_MAX are running.
 */
pid_t bench_proc_fork(void);

#endif
