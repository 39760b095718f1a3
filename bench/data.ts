/**
 * Deterministic benchmark data: the same restaurants for every system (Carte, the
 * hand-written baseline, json-server), so their answers can be compared in one run.
 */
import { seededRandom } from '../src/demo/seed.js';

export interface BenchRestaurant {
  id: number;
  name: string;
  type: string;
  rating: number;
  reviews: number;
  days: string[];
  zipcode: string;
  address: { street: string; city: string };
}

export const TYPES = ['thai', 'chinese', 'japanese', 'italian', 'french', 'indian'];
const FIRST = ['Le', 'La', 'Chez', 'Café', 'Bistrot', 'Trattoria', 'Pizzeria', 'Maison', 'Jardin', 'Palais', 'Petit', 'Grand'];
const SECOND = ['Lotus', 'Dragon', 'Soleil', 'Roma', 'Kyoto', 'Siam', 'Bombay', 'Marché', 'Étoile', 'Olivier', 'Moulin', 'Comptoir', 'Zinc', 'Sakura', 'Canton'];
const THIRD = ['Bleu', 'Doré', 'Rouge', 'Vert', 'du Port', 'de Paris', 'Express', 'Royal', 'Céleste', 'Gourmand'];
const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

export function restaurants(count: number): BenchRestaurant[] {
  const random = seededRandom(2024);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)] as T;
  return Array.from({ length: count }, (_, i) => ({
    id: i + 1,
    name: random() < 0.01 ? `Pizzeria Napoli ${i}` : `${pick(FIRST)} ${pick(SECOND)} ${pick(THIRD)}`,
    type: pick(TYPES),
    rating: Math.floor(random() * 6),
    reviews: Math.floor(random() * 1000),
    days: DAYS.filter(() => random() < 0.7),
    zipcode: String(75001 + Math.floor(random() * 20)),
    address: { street: `${1 + Math.floor(random() * 200)} rue de Rivoli`, city: 'Paris' },
  }));
}

/** A new restaurant for POST scenarios (the same body for every system). */
export const NEW_RESTAURANT = { name: 'Chez Bench', type: 'french', rating: 4, reviews: 0, days: ['monday'], zipcode: '75011', address: { street: '1 rue X', city: 'Paris' } };
