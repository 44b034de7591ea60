#include "threads.h"

#include <pthread.h>
#include <stdbool.h>

#include "kernels.h"

void ngrad_run_threads(void *(*run)(void *), void *jobs, size_t size, size_t count) {
  pthread_t ids[NGRAD_CONV_MAX_THREADS];
  bool started[NGRAD_CONV_MAX_THREADS] = {false};
  char *job = jobs;
  if (count > NGRAD_CONV_MAX_THREADS) count = NGRAD_CONV_MAX_THREADS;
  for (size_t t = 1; t < count; t++) started[t] = pthread_create(&ids[t], NULL, run, job + t * size) == 0;
  if (count > 0) run(job);
  for (size_t t = 1; t < count; t++) {
    if (started[t])
      pthread_join(ids[t], NULL);
    else
      run(job + t * size);
  }
}
