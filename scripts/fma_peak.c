// Single-core f32 FMA peak of this machine: 12 independent AVX2 vfmadd231ps chains.
//   gcc -O2 -mavx2 -mfma scripts/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak
// (benches/vision.md quotes its figure as the 1x1 kernels' ceiling.)
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
int main(){
  __m256 a[12]; for(int i=0;i<12;i++) a[i]=_mm256_set1_ps(i*0.001f);
  __m256 b=_mm256_set1_ps(0.9999f), c=_mm256_set1_ps(0.0001f);
  struct timespec t0,t1; clock_gettime(CLOCK_MONOTONIC,&t0);
  long n=200000000;
  for(long it=0;it<n;it++){
    #pragma GCC unroll 12
    for(int i=0;i<12;i++) a[i]=_mm256_fmadd_ps(a[i],b,c);
  }
  clock_gettime(CLOCK_MONOTONIC,&t1);
  double s=(t1.tv_sec-t0.tv_sec)+(t1.tv_nsec-t0.tv_nsec)*1e-9;
  float sum=0; for(int i=0;i<12;i++){float tmp[8];_mm256_storeu_ps(tmp,a[i]);sum+=tmp[0];}
  printf("%.1f GFMA/s (fp32 lanes) %f\n", n*12.0*8/s/1e9, sum);
}
