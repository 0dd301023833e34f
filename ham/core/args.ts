export { Args, checkFlags } from "../request-args.js";
