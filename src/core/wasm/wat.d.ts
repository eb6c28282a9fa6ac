/** A WebAssembly text module, assembled at build time (scripts/wat.mjs): its binary as base64. */
declare module '*.wat' {
  const base64: string;
  export default base64;
}
