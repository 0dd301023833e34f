// The validators schema/compile.mjs generates into dist/ham/core/schema-validators.js at build time.
import type { ValidateFunction } from "ajv/dist/2020.js";

export declare const config: ValidateFunction;
export declare const action: ValidateFunction;
export declare const failAction: ValidateFunction;
export declare const policy: ValidateFunction;
export declare const probe: ValidateFunction;
