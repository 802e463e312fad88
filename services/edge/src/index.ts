export { startEdge, type Edge } from './edge.js';
