export { readActionSpec, readFailSpec, readPolicy } from "../action-specs.js";
