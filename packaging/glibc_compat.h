/* Force-included (gcc -include) into every C file compiled in the bullseye build root
 * (packaging/build_in_bullseye.sh): CPython, and through its recorded CFLAGS every extension
 * built there (rootless/_native). glibc 2.29 gave exp, exp2, log, log2 and pow new default
 * symbol versions (GLIBC_2.29, faster code without the SVID error wrappers); anything linked
 * against glibc >= 2.29 then needs 2.29 to load. These directives bind the references to the
 * older versions every x86_64 glibc has (GLIBC_2.2.5), same results, so the payload's glibc
 * floor stays at 2.28 (RHEL 8). Unused directives add nothing to an object file. */
#if defined(__x86_64__) && defined(__linux__)
__asm__(".symver exp,exp@GLIBC_2.2.5");
__asm__(".symver exp2,exp2@GLIBC_2.2.5");
__asm__(".symver log,log@GLIBC_2.2.5");
__asm__(".symver log2,log2@GLIBC_2.2.5");
__asm__(".symver pow,pow@GLIBC_2.2.5");
#endif
