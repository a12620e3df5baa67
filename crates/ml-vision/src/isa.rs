//! Which SIMD kernels may run: the instruction sets the CPU has, capped by the environment
//! variable `ML_VISION_MAX_ISA` (read once per process), as oneDNN's `ONEDNN_MAX_CPU_ISA` caps
//! its kernels. `ML_VISION_MAX_ISA=avx2` runs the AVX2 kernels on a CPU with AVX-512 (to
//! measure or test them where they would otherwise never run); `portable` runs the portable
//! code only. Unset, empty or any other value: no cap. Kernels give the same results whichever
//! runs, apart from the last bits where the portable path lacks fused multiply-adds (see
//! [`crate::kernels`]).

use std::sync::OnceLock;

/// The widest instruction set the kernels may use, narrowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Isa {
    /// No SIMD beyond the target's baseline.
    Portable,
    /// AVX2 (with FMA where a kernel needs it).
    Avx2,
    /// AVX-512F.
    Avx512,
}

impl Isa {
    /// The cap a value of `ML_VISION_MAX_ISA` sets (`None`: no cap).
    fn parse(value: &str) -> Option<Isa> {
        match value.trim().to_ascii_lowercase().as_str() {
            "portable" | "none" | "scalar" => Some(Isa::Portable),
            "avx2" => Some(Isa::Avx2),
            _ => None,
        }
    }
}

/// Whether kernels using `isa` may run: the cap allows it (the CPU check is the caller's).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn allowed(isa: Isa) -> bool {
    static CAP: OnceLock<Option<Isa>> = OnceLock::new();
    let cap = CAP.get_or_init(|| {
        std::env::var("ML_VISION_MAX_ISA")
            .ok()
            .and_then(|v| Isa::parse(&v))
    });
    cap.is_none_or(|cap| isa <= cap)
}

/// Whether the kernels may use AVX-512F here: the CPU has it and the cap allows it.
pub(crate) fn avx512f() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        allowed(Isa::Avx512) && std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the kernels may use AVX2 here: the CPU has it and the cap allows it (kernels that
/// also need FMA check it themselves).
pub(crate) fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        allowed(Isa::Avx2) && std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_parse_as_documented() {
        assert_eq!(Isa::parse("avx2"), Some(Isa::Avx2));
        assert_eq!(Isa::parse(" AVX2 "), Some(Isa::Avx2));
        assert_eq!(Isa::parse("portable"), Some(Isa::Portable));
        assert_eq!(Isa::parse("avx512"), None);
        assert_eq!(Isa::parse(""), None);
        assert!(Isa::Avx2 <= Isa::Avx512 && Isa::Portable <= Isa::Avx2);
    }
}
